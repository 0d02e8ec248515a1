import { expect } from 'chai';
import { buffer, checkProtocolLimits, longestFittingSeqLen, makePlan, q4ShapeProblem, STREAM_RING_BYTES } from '../../src/plan/plan.js';
import { userError } from '../helpers/errors.js';
import { formatPlan } from '../../src/plan/format.js';
import { loadTarget, withFirmwareOptions, type Target } from '../../src/plan/target.js';
import { SAMPLER_CANDIDATES } from '../../src/engine/forward-steps.js';

const stories260K = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 };

/** A small board: 512 KiB of flash for weights, 128 KiB of SRAM for the state. */
const board: Target = {
  ...loadTarget('host'),
  name: 'tiny',
  memories: [
    { name: 'flash', kind: 'flash', bytes: 512 * 1024 },
    { name: 'sram', kind: 'sram', bytes: 128 * 1024 },
  ],
  placement: { weights: 'flash', state: 'sram' },
};

describe('plan', () => {
  it('lists every buffer with size, alignment and a non-overlapping offset', () => {
    const plan = makePlan(loadTarget('host'), stories260K, { weights: 'q8_0', groupSize: 64, sharedClassifier: true });
    const weights = plan.buffers.filter((b) => b.role === 'weights');
    for (let i = 1; i < weights.length; i++) expect(weights[i].offset).to.be.at.least(weights[i - 1].offset + weights[i - 1].bytes);
    for (const b of plan.buffers) expect(b.offset % b.align).to.equal(0);
    const w2 = plan.buffers.find((b) => b.name === 'w2_scales')!;
    expect(w2.count).to.equal(5 * 64 * 3); // rows of 172 in groups of 64: 3 groups each, none straddling
    expect(plan.buffers.find((b) => b.name === 'key_cache')!.bytes).to.equal(5 * 512 * 32 * 4);
    expect(plan.fits).to.equal(true);
    expect(formatPlan(plan)).to.match(/key_cache +ram \(state\) +327,680/);
  });

  it('stores Q4_0 values two to a byte, rows padded to a whole byte', () => {
    const plan = makePlan(loadTarget('host'), stories260K, { weights: 'q4_0', groupSize: 32, sharedClassifier: true });
    expect(plan.buffers.find((b) => b.name === 'w2')!.bytes).to.equal(5 * 64 * 86);
    expect(plan.buffers.find((b) => b.name === 'w2')!.matrix).to.equal('q4_0');
  });

  it('fails with what does not fit and what would: a shorter context, smaller weights', () => {
    const plan = makePlan(board, stories260K, { weights: 'f32', sharedClassifier: true });
    expect(plan.fits).to.equal(false);
    const text = plan.problems.join('\n');
    expect(text).to.match(
      /sram \(sram\): the plan needs .* but tiny has 128\.0 KiB .*--seq-len \d+ \(the KV cache takes 640\.0 KiB at 512 positions\)/,
    );
    expect(text).to.match(/flash \(flash\): the plan needs 1\.0 MiB .* --quant q8_0 \(Q8_0/);
  });

  it('finds the longest context that fits, and that one fits', () => {
    const options = { weights: 'q8_0' as const, groupSize: 64, sharedClassifier: true };
    const seqLen = longestFittingSeqLen(board, stories260K, options)!;
    expect(seqLen).to.be.within(2, 511);
    expect(makePlan(board, stories260K, { ...options, seqLen }).fits).to.equal(true);
    expect(makePlan(board, stories260K, { ...options, seqLen: seqLen + 1 }).fits).to.equal(false);
    expect(longestFittingSeqLen(loadTarget('host'), stories260K, options)).to.equal(undefined);
  });
});

describe('plan: stories15M on a Raspberry Pi Pico', () => {
  const stories15M = { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256 };

  it('does not fit, and says why and what to do', () => {
    const plan = makePlan(loadTarget('rp2040'), stories15M, { weights: 'q4_0', groupSize: 32, sharedClassifier: true });
    expect(plan.fits).to.equal(false);
    const text = plan.problems.join('\n');
    expect(text).to.match(/flash \(flash\): the plan needs 9\.\d MiB but rp2040 has 1\.9 MiB.*--flash-size 16M/);
    expect(text).to.match(
      /sram \(sram\): .*even at --seq-len 1 the state needs more than 252\.0 KiB \(logits 125\.0 KiB, sampler_order 125\.0 KiB/,
    );
    expect(text).to.match(/a Raspberry Pi runs the models that a microcontroller cannot/);
    expect(longestFittingSeqLen(loadTarget('rp2040'), stories15M, { weights: 'q4_0', groupSize: 32, sharedClassifier: true })).to.equal(
      undefined,
    );
  });
});

describe('plan: stories15M on an RP2040 board with 16 MB of flash (integer arithmetic, Q4_0)', () => {
  const stories15M = { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256 };
  const sixteen = withFirmwareOptions(loadTarget('rp2040'), { flashBytes: 16 * 1024 * 1024 });
  const integerQ4 = { weights: 'q4_0' as const, groupSize: 32, sharedClassifier: true, arithmetic: 'integer' as const };

  it('advises the longest context that fits, not an estimate from the KV cache alone (it left out the scale codes and said 64 where 67 fit)', () => {
    const seqLen = longestFittingSeqLen(sixteen, stories15M, integerQ4)!;
    const advice = /--seq-len (\d+)/.exec(makePlan(sixteen, stories15M, integerQ4).problems.join('\n'));
    expect(advice).to.not.equal(null);
    expect(Number(advice![1])).to.equal(seqLen);
    // on the Pico too, float arithmetic: stories260K's shapes with a context of 4,096
    const pico = loadTarget('rp2040');
    const small = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 4096 };
    const floatOptions = { weights: 'q8_0' as const, groupSize: 64, sharedClassifier: true, arithmetic: 'float' as const };
    const fitting = longestFittingSeqLen(pico, small, floatOptions);
    const said = /--seq-len (\d+)/.exec(makePlan(pico, small, floatOptions).problems.join('\n'));
    expect(Number(said![1])).to.equal(fitting);
  });

  it('computes the classifier in blocks: no vocabulary-sized buffer in SRAM, and a context of what the SRAM holds', () => {
    const seqLen = longestFittingSeqLen(sixteen, stories15M, integerQ4)!;
    expect(seqLen).to.be.within(60, 70); // int8 KV cache: 6 layers × 2 × 288 bytes + 12 scale codes a position
    const plan = makePlan(sixteen, stories15M, { ...integerQ4, seqLen });
    expect(plan.fits, plan.problems.join('\n')).to.equal(true);
    expect(plan.classifier).to.equal('blocks');
    const names = plan.buffers.map((b) => b.name);
    expect(names).to.include.members(['logits_block', 'best', 'xw', 'sampler_top_logits', 'sampler_top_ids', 'sampler_tally']);
    expect(names).not.to.include.members(['logits', 'logits_fixed']);
    expect(buffer(plan, 'logits_block').bytes).to.equal(64 * 4);
    // top-p's candidates, their tokens and the nucleus' order instead of 375 KiB of vocabulary-sized vectors
    for (const name of ['sampler_top_logits', 'sampler_top_ids', 'sampler_order'])
      expect(buffer(plan, name).bytes).to.equal(SAMPLER_CANDIDATES * 4);
    // the Q4_0 values in row-pair words: half a byte a value, as packed
    expect(buffer(plan, 'token_embedding_table')).to.include({ element: 'i32', bytes: (32000 * 288) / 2, memory: 'flash' });
    expect(buffer(plan, 'key_cache').bytes).to.equal(6 * seqLen * 288);
    expect(plan.weightsBytes).to.be.within(8 * 2 ** 20, 8.5 * 2 ** 20);
    expect(makePlan(sixteen, stories15M, { ...integerQ4, seqLen: seqLen + 1 }).fits).to.equal(false);
  });

  it('with a bounded KV cache (--kv-window 4+28): the whole 256-position context fits, the cache counted at 32 rows', () => {
    const kvWindow = { sinks: 4, window: 28 };
    expect(longestFittingSeqLen(sixteen, stories15M, { ...integerQ4, kvWindow })).to.equal(undefined); // fits as it is
    const plan = makePlan(sixteen, stories15M, { ...integerQ4, kvWindow });
    expect(plan.fits, plan.problems.join('\n')).to.equal(true);
    expect(plan).to.include({ seqLen: 256, cacheRows: 32 });
    expect(buffer(plan, 'key_cache').bytes).to.equal(6 * 32 * 288);
    expect(buffer(plan, 'value_scale').bytes).to.equal(6 * 32 * 6);
    expect(buffer(plan, 'att').count).to.equal(32);
    // the RoPE tables still cover every position
    expect(buffer(plan, 'rope_cos').count).to.equal(256 * 24);
    expect(formatPlan(plan)).to.contain('seq_len 256, KV cache bounded to 4+28 positions (approximate past 32)');
    // a window too large for the SRAM: the advice is a smaller window, not a shorter context
    const tooLarge = makePlan(sixteen, stories15M, { ...integerQ4, kvWindow: { sinks: 4, window: 200 } });
    expect(tooLarge.fits).to.equal(false);
    const advice = /--kv-window 4\+(\d+)/.exec(tooLarge.problems.join('\n'));
    expect(advice, tooLarge.problems.join('\n')).not.to.equal(null);
    expect(makePlan(sixteen, stories15M, { ...integerQ4, kvWindow: { sinks: 4, window: Number(advice![1]) } }).fits).to.equal(true);
  });

  it("counts a firmware's tokenizer tables in flash beside the weights, outside the blob, and refuses a flash they overflow", () => {
    const seqLen = longestFittingSeqLen(sixteen, stories15M, integerQ4)!;
    const tables = [{ name: 'tokenizer_tables', bytes: 529_868, description: 'tokenizer' }];
    const plan = makePlan(sixteen, stories15M, { ...integerQ4, seqLen, tables });
    expect(plan.fits, plan.problems.join('\n')).to.equal(true);
    const without = makePlan(sixteen, stories15M, { ...integerQ4, seqLen });
    expect(plan.weightsBytes).to.equal(without.weightsBytes); // not in the weights blob (WEIGHTS_BYTES)
    expect(buffer(plan, 'tokenizer_tables')).to.include({ role: 'tables', memory: 'flash', offset: 0, bytes: 529_868 });
    const flash = (p: typeof plan) => p.memories.find((m) => m.memory.name === 'flash')!.used;
    expect(flash(plan)).to.equal(flash(without) + 529_868);
    expect(formatPlan(plan)).to.match(/tokenizer_tables +flash \(tables\) +529,868/);
    // no SRAM: the state is the same
    expect(plan.stateBytes).to.equal(without.stateBytes);
    // tables of exactly the flash the weights leave fit; 4 bytes more do not, and the plan says so
    const small = { dim: 64, hiddenDim: 128, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 512, seqLen: 64 };
    const q8 = { ...integerQ4, weights: 'q8_0' as const };
    const room = sixteen.memories.find((m) => m.name === 'flash')!.bytes! - makePlan(sixteen, small, q8).weightsBytes;
    expect(room).to.be.above(15 * 2 ** 20);
    expect(makePlan(sixteen, small, { ...q8, tables: [{ ...tables[0], bytes: room }] }).fits).to.equal(true);
    const over = makePlan(sixteen, small, { ...q8, tables: [{ ...tables[0], bytes: room + 4 }] });
    expect(over.fits).to.equal(false);
    expect(over.problems.join('\n')).to.match(/flash \(flash\): the plan needs/);
  });

  it('keeps the whole logits vector where it fits (stories260K), so that sampling stays possible', () => {
    const plan = makePlan(loadTarget('rp2040'), stories260K, { ...integerQ4, weights: 'q8_0', seqLen: 64 });
    expect(plan.classifier).to.equal('whole');
    expect(plan.buffers.map((b) => b.name)).to.include.members(['logits', 'sampler_order']);
  });

  it("on the Pico's 2 MB the weights do not fit: it names the smallest board that holds them", () => {
    const plan = makePlan(loadTarget('rp2040'), stories15M, { ...integerQ4, seqLen: 32 });
    expect(plan.fits).to.equal(false);
    expect(plan.problems.join('\n')).to.match(
      /flash \(flash\): the plan needs 8\.2 MiB but rp2040 has 1\.9 MiB.*a board with 16 MB of flash \(--flash-size 16M\)/,
    );
  });

  it('refuses a model no board holds even in Q4_0 (stories110M), with the sizes', () => {
    const stories110M = { dim: 768, hiddenDim: 2048, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32000, seqLen: 1024 };
    const plan = makePlan(sixteen, stories110M, { ...integerQ4, seqLen: 1 });
    expect(plan.fits).to.equal(false);
    const text = plan.problems.join('\n');
    expect(text).to.match(/flash \(flash\): the plan needs 58\.8 MiB but rp2040 has 15\.9 MiB/);
    expect(text).to.match(/no board of up to 16 MB of flash holds 58\.8 MiB of weights/);
    expect(text).to.match(/a Raspberry Pi runs the models that a microcontroller cannot/);
  });

  it('refuses Q4_0 shapes the integer matmul cannot read (rows of 172: stories260K), saying what to use', () => {
    expect(userError(() => makePlan(loadTarget('rp2040'), stories260K, { ...integerQ4, seqLen: 64 })).message).to.match(
      /w2 is 64 × 172 in groups of 32 .*or --quant q8_0/,
    );
  });
});

describe('plan: weights copied to SRAM on a board that reads them from flash', () => {
  const rp2040 = loadTarget('rp2040');
  const integer = { weights: 'q8_0' as const, groupSize: 64, sharedClassifier: true, arithmetic: 'integer' as const };
  const copies = (plan: ReturnType<typeof makePlan>) => plan.buffers.filter((b) => b.copyOf);

  it("fills the SRAM the state leaves with whole tensors, the kernels' tables first, then the largest", () => {
    const plan = makePlan(rp2040, stories260K, { ...integer, seqLen: 256 });
    const sram = plan.memories.find((m) => m.memory.name === 'sram')!;
    expect(plan.fits).to.equal(true);
    expect(sram.used).to.be.at.most(sram.memory.bytes!);
    const copied = copies(plan);
    expect(copied.slice(0, 2).map((b) => b.copyOf)).to.have.members(['exp_table', 'kv_scale_table']);
    expect(copied.map((b) => b.copyOf)).to.include.members(['w1', 'w2']);
    for (const copy of copied) {
      const source = plan.buffers.find((b) => b.name === copy.copyOf)!;
      expect(copy, copy.name).to.include({
        role: 'state',
        memory: 'sram',
        element: source.element,
        count: source.count,
        bytes: source.bytes,
      });
      expect(copy.offset % copy.align).to.equal(0);
    }
    // what is left could not hold any tensor not copied (but the RoPE tables, not worth it)
    const room = sram.memory.bytes! - sram.used;
    const left = plan.buffers.filter(
      (b) => b.role === 'weights' && !b.name.startsWith('rope_') && !copied.some((c) => c.copyOf === b.name),
    );
    for (const b of left) expect(b.bytes, b.name).to.be.greaterThan(room - 64);
    expect(formatPlan(plan)).to.match(/w1_sram +sram \(state\) +55,040 .* w1 copied to SRAM at boot/);
  });

  it('copies more the shorter the context, nothing when the state takes the SRAM, and nothing when told not to', () => {
    const bytes = (seqLen: number) => copies(makePlan(rp2040, stories260K, { ...integer, seqLen })).reduce((s, b) => s + b.bytes, 0);
    expect(bytes(128)).to.be.greaterThan(bytes(256));
    expect(bytes(256)).to.be.greaterThan(100_000);
    expect(bytes(256)).to.be.greaterThan(bytes(512));
    // float kernels at the longest context that fits: the float32 KV cache fills the SRAM
    const float = { weights: 'q8_0' as const, groupSize: 64, sharedClassifier: true };
    const longest = longestFittingSeqLen(rp2040, stories260K, float)!;
    expect(copies(makePlan(rp2040, stories260K, { ...float, seqLen: longest })).reduce((s, b) => s + b.bytes, 0)).to.be.below(4096);
    expect(copies(makePlan(rp2040, stories260K, { ...integer, seqLen: 128, sramWeights: false }))).to.deep.equal([]);
  });

  it("takes the SRAM of code run from there before the weights' copies, and lists it", () => {
    const code = { bytes: 18_000, description: 'code run from SRAM: forward.o' };
    const copied = (p: ReturnType<typeof makePlan>) => copies(p).reduce((s, b) => s + b.bytes, 0);
    const without = makePlan(rp2040, stories260K, { ...integer, seqLen: 256 });
    const withCode = makePlan(rp2040, stories260K, { ...integer, seqLen: 256, sramCode: code });
    expect(withCode.buffers.find((b) => b.role === 'code')).to.include({ name: 'sram_code', memory: 'sram', bytes: 18_000 });
    expect(withCode.stateBytes).to.be.below(without.stateBytes); // the RunState holds fewer copies; the code is not in it
    expect(copied(withCode)).to.be.below(copied(without));
    const sram = withCode.memories.find((m) => m.memory.name === 'sram')!;
    expect(sram.used).to.equal(withCode.stateBytes + 18_000);
    expect(sram.used).to.be.at.most(sram.memory.bytes!);
    expect(formatPlan(withCode)).to.match(/sram_code +sram \(code\) +18,000 .* code run from SRAM: forward\.o/);
    // the whole context with its one-byte KV scale codes leaves room for it
    expect(makePlan(rp2040, stories260K, { ...integer, sramCode: code }).fits).to.equal(true);
    expect(makePlan(rp2040, stories260K, { ...integer, sramCode: { ...code, bytes: 200_000 } }).fits).to.equal(false);
  });

  it('streaming the weights takes a ring of STREAM_RING_BYTES in the state before the copies, and still fits the whole context', () => {
    const copied = (p: ReturnType<typeof makePlan>) => copies(p).reduce((s, b) => s + b.bytes, 0);
    const cache = makePlan(rp2040, stories260K, integer);
    const stream = makePlan(rp2040, stories260K, { ...integer, streamWeights: true });
    expect(stream.buffers.find((b) => b.name === 'weight_ring')).to.include({ role: 'state', memory: 'sram', bytes: STREAM_RING_BYTES });
    expect(cache.buffers.find((b) => b.name === 'weight_ring')).to.equal(undefined);
    expect(copied(stream)).to.be.below(copied(cache));
    expect(stream.fits).to.equal(true);
    expect(formatPlan(stream)).to.match(/weight_ring +sram \(state\) +16,384 .* weights streamed from flash by DMA/);
  });

  it('never copies on a target whose weights are in RAM already', () => {
    expect(copies(makePlan(loadTarget('host'), stories260K, { weights: 'q8_0', groupSize: 64, sharedClassifier: true }))).to.deep.equal([]);
  });
});

describe('plan: what the serial protocol (16-bit ids and positions) can carry', () => {
  it('refuses a vocabulary above 65,535 tokens, which would be truncated on the wire', () => {
    checkProtocolLimits({ ...stories260K, vocabSize: 65_535 }, undefined, 'big.bin');
    const err = userError(() => checkProtocolLimits({ ...stories260K, vocabSize: 65_536 }, undefined, 'big.bin'));
    expect(err.message).to.match(
      /big\.bin has a vocabulary of 65,536 tokens, and a build can carry at most 65,535: the serial protocol sends token ids in 16 bits/,
    );
    expect(err.exitCode).to.equal(2);
  });

  it('refuses a context above 65,535 positions, unless --seq-len shortens it', () => {
    const long = { ...stories260K, seqLen: 100_000 };
    expect(userError(() => checkProtocolLimits(long, undefined, 'long.bin')).message).to.match(
      /long\.bin's context \(seq_len\) is 100,000 positions.*Add --seq-len 65535 or less/,
    );
    expect(userError(() => checkProtocolLimits(long, 70_000, 'long.bin')).message).to.match(/--seq-len is 70,000 positions/);
    checkProtocolLimits(long, 65_535, 'long.bin');
  });
});

describe('plan: which Q4_0 shapes the integer kernels take (two rows, 16 columns at a time)', () => {
  const stories15M = { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256 };

  it('takes Q8_0 and f32 whatever the shapes, and Q4_0 in rows pairs of 16-column groups', () => {
    expect(q4ShapeProblem(stories260K, 'q8_0', 30)).to.equal(undefined);
    expect(q4ShapeProblem(stories260K, 'f32', 30)).to.equal(undefined);
    expect(q4ShapeProblem(stories15M, 'q4_0', 32)).to.equal(undefined);
    expect(q4ShapeProblem(stories15M, 'mixed', 32)).to.equal(undefined);
  });

  it('refuses a group size that is not a multiple of 16, and says which to use', () => {
    const problem = q4ShapeProblem(stories15M, 'q4_0', 24);
    expect(problem).to.contain('the token embedding is 32000 × 288 in groups of 24');
    expect(problem).to.contain('Use --group-size 16 or 32, or --quant q8_0.');
  });

  it('refuses a shape no group size fixes (stories260K: 172 hidden columns), without suggesting one', () => {
    const problem = q4ShapeProblem(stories260K, 'q4_0', 32);
    expect(problem).to.contain('w2 is 64 × 172 in groups of 32');
    expect(problem).to.contain('No group size helps that shape: use --arithmetic float, or --quant q8_0.');
    expect(problem).to.not.contain('--group-size');
  });
});
