/**
 * stories15M's shapes on an RP2040 board with 16 MB of flash (issue 19): Q4_0 weights in row-pair
 * words, integer kernels, the classifier in row blocks into a running argmax. A seeded random model
 * of those shapes (the real checkpoint is not downloaded here) with a classifier of its own, so that
 * the greedy tokens vary: the firmware's first tokens, on rp2040js with the XIP timing model, must be
 * the integer engine's, bit for bit. With --embed-tokenizer, tokenizer.bin's 32,000 pieces are
 * const tables in flash and the firmware encodes its prompt itself. Speed is measured by
 * `npm run bench -- rp2040-15m`.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { build } from '../../src/toolchain/build.js';
import { tablesOf } from '../../src/codegen/tokenizer-tables.js';
import { runEngine } from '../helpers/engine-run.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';
import { randomModel, STORIES15M } from '../helpers/random-model.js';
import type { Config } from '../../src/checkpoint/model.js';

const SIXTEEN_MB = 16 * 1024 * 1024;

describe("rp2040 with 16 MB of flash: a random model of stories15M's shapes, Q4_0, integer kernels", function () {
  needs('tokenizer.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(1_200_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let checkpoint: string;
  before(() => {
    checkpoint = join(tmp.dir, 'random15M-q4_0.bin');
    const model = randomModel(STORIES15M, 3, { sharedClassifier: false });
    writeCheckpoint(checkpoint, quantizeModel(model, 'q4_0', { groupSize: 32 }).model, 'own');
  });

  it("greedy from BOS: the first 4 tokens are the integer engine's, with the XIP timing model", async () => {
    const out = join(tmp.dir, 'greedy');
    const result = await build(
      {
        target: 'rp2040',
        model: checkpoint,
        tokenizer: modelPath('tokenizer.bin'),
        flashBytes: SIXTEEN_MB,
        boot2: 'quad',
        prompt: '',
        steps: 4,
        temperature: 0,
        exitAfterGeneration: true,
        stdio: 'uart',
        out,
      },
      () => {},
    );
    const plan = result.plan;
    expect(plan).to.include({ weights: 'q4_0', arithmetic: 'integer', classifier: 'blocks' });
    expect(plan.seqLen).to.be.within(60, 70);
    expect(plan.weightsBytes).to.be.above(12 * 2 ** 20); // a classifier of its own: 13 MiB, beyond an 8 MB board
    const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'), { xipModel: true });
    const run = await emu.run({ maxSeconds: 1_000 });
    expect(run.reason, run.output.slice(-500)).to.equal('break');
    const ids = run.output.split('\n').filter((l) => /^[PG] \d+$/.test(l));

    const loaded = loadForGeneration({ model: checkpoint, tokenizer: modelPath('tokenizer.bin') });
    const engine = runEngine(loaded.model, [1], 4, { temperature: 0, topp: 0.9, seed: 1 }, 0, {
      arithmetic: 'integer',
      seqLen: plan.seqLen,
      classifier: 'blocks', // the same steps as the firmware
    });
    expect(ids).to.deep.equal(engine.idLines);
    const generated = ids.filter((l) => l.startsWith('G '));
    expect(generated.length).to.equal(4);
    expect(new Set(generated).size, 'varied tokens, not one repeated').to.be.above(1);
    // every token's weights (the classifier's 5.3 MiB and the layers' 3 MiB, not the embedding's
    // other rows) came through the XIP cache from the 16 MB flash, 8 bytes a miss
    expect(emu.xipReport!.data.misses).to.be.above((4 * 8 * 2 ** 20) / 8);
  });

  it("with --embed-tokenizer: tokenizer.bin's tables in flash, the prompt encoded on the board, the engine's text", async () => {
    const out = join(tmp.dir, 'tokenizer');
    const prompt = 'Once';
    const log: string[] = [];
    const result = await build(
      {
        target: 'rp2040',
        model: checkpoint,
        tokenizer: modelPath('tokenizer.bin'),
        flashBytes: SIXTEEN_MB,
        quant: 'q4_0',
        prompt,
        steps: 2, // BOS, " Once", then one token generated
        temperature: 0,
        embedTokenizer: true,
        exitAfterGeneration: true,
        stdio: 'uart',
        out,
      },
      (line) => log.push(line),
    );
    const plan = result.plan;
    const loaded = loadForGeneration({ model: checkpoint, tokenizer: modelPath('tokenizer.bin') });
    const tables = plan.buffers.find((b) => b.name === 'tokenizer_tables')!;
    expect(tables).to.include({ memory: 'flash', role: 'tables', bytes: tablesOf(loaded.tokenizer).total });
    expect(tables.bytes).to.be.within(500_000, 560_000);
    const flash = plan.memories.find((m) => m.memory.name === 'flash')!;
    expect(flash.used).to.equal(plan.weightsBytes + tables.bytes);
    // the SRAM holds encode's merge buffer (2 × 27 + 4) and the prompt's ids (strlen + 3), not the vocabulary
    expect(plan.buffers.find((b) => b.name === 'tokenizer_scratch')!.bytes).to.equal(58 + 4 * (prompt.length + 3));
    expect(log.join('\n')).to.match(/tokenizer tables \(in flash\)/);

    const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'));
    const run = await emu.run({ maxSeconds: 1_000 });
    expect(run.reason, run.output.slice(-500)).to.equal('break');
    const promptIds = loaded.tokenizer.encode(prompt, true, false);
    expect(promptIds.length).to.equal(2);
    const engine = runEngine(loaded.model, promptIds, 2, { temperature: 0, topp: 0.9, seed: 1 }, 0, {
      arithmetic: 'integer',
      seqLen: plan.seqLen,
      classifier: 'blocks',
    });
    const ids = engine.idLines.map((l) => Number(l.slice(2)));
    expect(ids.length).to.equal(3);
    const expected = Buffer.concat(ids.slice(1).map((id, i) => loaded.tokenizer.decode(ids[i], id)));
    expect(emu.outputBuffer.subarray(0, expected.length).toString('hex')).to.equal(expected.toString('hex'));
    expect(emu.outputBuffer.subarray(expected.length).toString('utf8')).to.match(/^\nachieved tok\/s: /);
  });
});

/**
 * The same kind of model with its weights streamed (`--stream-weights`, doc/rp2040.md "Streaming the
 * weights"): every Q4_0 matrix, the 32,000-row classifier included, comes by DMA from the XIP stream
 * FIFO into the SRAM ring, a block of row pairs at a time, while the core computes. A small model with
 * a 32,000-token vocabulary (so that its classifier is in blocks too) runs fast enough to check one and
 * two cores; stories15M's own shapes run for 2 tokens.
 */
describe('rp2040 with 16 MB of flash: Q4_0 weights streamed by DMA from the XIP stream (--stream-weights)', function () {
  needs('tokenizer.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(1_200_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  /** Builds a random model of `config` (a classifier of its own), Q4_0 in groups of 32, streamed; runs it with the XIP model; compares with the engine. */
  async function streamed(
    name: string,
    config: Config,
    prompt: string,
    steps: number,
    threads: number,
    sampling = { temperature: 0, topp: 0.9, seed: 1 },
  ) {
    const checkpoint = join(tmp.dir, `${name}.bin`);
    if (!existsSync(checkpoint)) {
      const model = randomModel(config, 3, { sharedClassifier: false });
      writeCheckpoint(checkpoint, quantizeModel(model, 'q4_0', { groupSize: 32 }).model, 'own');
    }
    const out = join(tmp.dir, `${name}-${threads}-t${sampling.temperature}`);
    const { plan } = await build(
      {
        target: 'rp2040',
        model: checkpoint,
        tokenizer: modelPath('tokenizer.bin'),
        flashBytes: SIXTEEN_MB,
        boot2: 'quad',
        streamWeights: true,
        threads,
        prompt,
        steps,
        ...sampling,
        seed: BigInt(sampling.seed),
        exitAfterGeneration: true,
        stdio: 'uart',
        out,
      },
      () => {},
    );
    expect(plan).to.include({ weights: 'q4_0', arithmetic: 'integer', classifier: 'blocks' });
    const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'), { xipModel: true });
    const run = await emu.run({ maxSeconds: 1_000 });
    expect(run.reason, run.output.slice(-500)).to.equal('break');
    const ids = run.output.split('\n').filter((l) => /^[PG] \d+$/.test(l));
    const loaded = loadForGeneration({ model: checkpoint, tokenizer: modelPath('tokenizer.bin') });
    const engine = runEngine(loaded.model, loaded.tokenizer.encode(prompt, true, false), steps, sampling, 0, {
      arithmetic: 'integer',
      seqLen: plan.seqLen,
      classifier: 'blocks',
    });
    expect(ids).to.deep.equal(engine.idLines);
    expect(new Set(ids.filter((l) => l.startsWith('G '))).size, 'varied tokens, not one repeated').to.be.above(1);
    // every matrix not copied to SRAM, every token, through the stream: its values and scales (the
    // embedding table is read a row at a time, through the cache)
    const copied = new Set(plan.buffers.filter((b) => b.copyOf).map((b) => b.copyOf));
    const perToken = plan.buffers
      .filter((b) => b.role === 'weights' && /^(wq|wk|wv|wo|w1|w2|w3|wcls)(_scales)?$/.test(b.name) && !copied.has(b.name))
      .reduce((n, b) => n + b.bytes, 0);
    expect(emu.streamReport.words * 4).to.be.at.least(steps * perToken);
    expect(emu.streamReport.underflows).to.equal(0);
    // and not through the cache: boot, the code, the norms and the embedding's rows, not the matrices
    expect(emu.xipReport!.data.misses).to.be.below((steps * perToken) / 8 / 50);
    const forward = readFileSync(join(out, 'forward.c'), 'utf8');
    expect(forward, 'the classifier from the ring, each block folded into the argmax or the candidates').to.match(
      /weight_stream_release\(\);\s+fold_block\(r, (32|64), inv_temp\);/,
    );
    return { plan, run, emu };
  }

  const small: Config = { dim: 64, hiddenDim: 192, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 32000, seqLen: 512 };
  for (const threads of [1, 2]) {
    it(`a 32,000-token model of dim 64, ${threads === 1 ? 'one core' : "both cores (each takes half of every block's row pairs)"}: a 5-token prompt (whose positions skip the classifier's segments) and 4 tokens, the integer engine's`, async () => {
      const { emu } = await streamed('small', small, 'Once upon a time', 8, threads);
      if (threads === 2) expect(emu.core1.inRomWait, 'core 1 was launched').to.equal(false);
    });
  }

  it("a 32,000-token model of dim 64, both cores, sampled (temperature 1, top-p 0.9): the candidates folded from the ring, the integer engine's tokens", async () => {
    await streamed('small', small, 'Once upon a time', 8, 2, { temperature: 1, topp: 0.9, seed: 7 });
  });

  it("stories15M's shapes, one core: the first 2 tokens are the integer engine's", async () => {
    const { plan } = await streamed('stories15M', STORIES15M, '', 2, 1);
    expect(plan.buffers.find((b) => b.name === 'weight_ring')).to.include({ memory: 'sram', bytes: 16 * 1024 });
    expect(plan.seqLen).to.be.within(55, 70);
  });
});
