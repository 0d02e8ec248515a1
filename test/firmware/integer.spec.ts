/**
 * The RP2040's default build: Q8_0 weights and the integer kernels (no float in the inner loops of
 * a core without an FPU). Its tokens must be the integer-mode engine's, bit for bit, over a whole
 * context, and its greedy text must keep llama2.c's fp32 text for at least 20 tokens.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { build, type BuildRequest } from '../../src/toolchain/build.js';
import { runEngine } from '../helpers/engine-run.js';
import { readGoldenIds, tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const stories = stories260K; // looked up when read, after needs()

function idLines(output: string): string[] {
  return output.split('\n').filter((l) => /^[PG] \d+$/.test(l));
}

describe('rp2040 target, integer arithmetic (the default): firmware against the integer engine', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(900_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let loaded: ReturnType<typeof loadForGeneration>;
  before(() => {
    loaded = loadForGeneration({ ...stories, weights: 'q8_0' });
  });

  async function runFirmware(name: string, req: Omit<BuildRequest, 'target'>, xipModel = false) {
    const log: string[] = [];
    const result = await build(
      { target: 'rp2040', ...stories, exitAfterGeneration: true, stdio: 'uart', out: join(tmp.dir, name), ...req },
      (l) => log.push(l),
    );
    const emu = await Rp2040Emulator.load(join(result.outDir, 'firmware.uf2'), { xipModel });
    const run = await emu.run({ maxSeconds: 600 });
    expect(run.reason, run.output.slice(-500)).to.equal('break');
    return { plan: result.plan, output: run.output, log, xip: emu.xipReport, core1: emu.core1, stream: emu.streamReport };
  }

  it("greedy to the end of a 128-position context: every token the engine's, the first 20 llama2.c's fp32 ones (a dual-core build, on both emulated cores)", async () => {
    // --threads 2 splits every matmul between the two cores: the harness runs core 1
    // (src/emulator/second-core.ts), so core 1 computes half of every matmul's rows
    const { plan, output, core1 } = await runFirmware('greedy', {
      seqLen: 128,
      prompt: 'Once upon a time',
      steps: 128,
      temperature: 0,
      threads: 2,
    });
    expect(readFileSync(join(tmp.dir, 'greedy', 'forward_parallel.c'), 'utf8')).to.match(
      /parallel_rows\(matmul_172x64_q8_int_s\d+_rows, &job, 172\)/,
    );
    expect(core1.inRomWait, 'core 1 was launched').to.equal(false);
    expect(plan.weights).to.equal('q8_0');
    expect(plan.arithmetic).to.equal('integer');
    expect(plan.seqLen).to.equal(128);
    const prompt = loaded.tokenizer.encode('Once upon a time', true, false);
    const engine = runEngine(loaded.model, prompt, 0, { temperature: 0, topp: 0.9, seed: 1 }, 0, { arithmetic: 'integer', seqLen: 128 });
    const ids = idLines(output);
    expect(ids).to.deep.equal(engine.idLines);
    // run.c stops at BOS or at the end of the context: this story reaches the end, one forward
    // pass per position (each line is the token fed in, then the last one produced)
    expect(ids.length - 1).to.equal(128);
    const golden = readGoldenIds('stories260K_f32_greedy_once_upon_a_time.ids');
    const generated = ids.filter((l) => l.startsWith('G ')).map((l) => Number(l.slice(2)));
    expect(generated.slice(0, 20)).to.deep.equal(golden.generated.slice(0, 20));
  });

  it("sampled, 64 tokens at seq_len 512 (the whole context in SRAM, and the forward pass's code): the engine's tokens", async () => {
    const { plan, output, log } = await runFirmware('sampled', { prompt: 'One day', steps: 64, temperature: 1, topp: 0.9, seed: 42n });
    // the int8 KV cache holds llama2.c's whole context where float32 fits about 170 positions
    expect(plan.seqLen).to.equal(512);
    // with its one-byte scales it leaves room for the code, measured before the plan is final
    const code = plan.buffers.find((b) => b.role === 'code')!;
    expect(code).to.include({ name: 'sram_code', memory: 'sram' });
    expect(code.bytes).to.be.within(4096, 64 * 1024);
    expect(log.join('\n')).to.match(
      /compiling forward\.o, forward_parallel\.o, dot_q8\.o, dot_q4\.o, divider\.o to measure the code to run from SRAM/,
    );
    expect(log.join('\n')).to.match(/code run from SRAM \(\.sram_text\) +[\d.]+ KiB +[\d.]+ KiB/);
    const engine = runEngine(
      loaded.model,
      loaded.tokenizer.encode('One day', true, false),
      64,
      { temperature: 1, topp: 0.9, seed: 42 },
      0,
      { arithmetic: 'integer' },
    );
    expect(idLines(output)).to.deep.equal(engine.idLines);
    expect(output).to.match(/achieved tok\/s: \d+\.\d\d \(64 tokens, \d+ cycles per token at 133 MHz\)/);
  });

  it('--boot2 quad: boots through the Quad Enable check and continuous-read set-up, same tokens, 56 cycles per XIP line fill', async () => {
    const { output, xip } = await runFirmware('quad', { prompt: 'Once upon a time', steps: 12, temperature: 0, boot2: 'quad' }, true);
    const engine = runEngine(
      loaded.model,
      loaded.tokenizer.encode('Once upon a time', true, false),
      12,
      { temperature: 0, topp: 0.9, seed: 1 },
      0,
      { arithmetic: 'integer' },
    );
    expect(idLines(output)).to.deep.equal(engine.idLines);
    expect(xip!.lineFill?.cycles).to.equal(56); // EBh continuous read: 8 address + 4 dummy + 16 data SCK at clk_sys / 2
    expect(readFileSync(join(tmp.dir, 'quad', 'Makefile'), 'utf8')).to.match(/-DBOOT2_QUAD/);
  });

  it("--stream-weights: the matrices not copied to SRAM come by DMA from the XIP stream, 40 cycles a word with the quad boot2; the engine's tokens", async () => {
    const steps = 6;
    const run = await runFirmware(
      'stream',
      { prompt: 'Once upon a time', steps, temperature: 0, boot2: 'quad', streamWeights: true },
      true,
    );
    const engine = runEngine(
      loaded.model,
      loaded.tokenizer.encode('Once upon a time', true, false),
      steps,
      { temperature: 0, topp: 0.9, seed: 1 },
      0,
      { arithmetic: 'integer' },
    );
    expect(idLines(run.output)).to.deep.equal(engine.idLines);
    const forward = readFileSync(join(tmp.dir, 'stream', 'forward.c'), 'utf8');
    expect(forward).to.match(/static const WeightSegment weight_segments\[\] = \{/);
    expect(forward).to.match(/const int8_t\* wv = weight_stream_take\(\);/);
    const ring = run.plan.buffers.find((b) => b.name === 'weight_ring')!;
    expect(ring).to.include({ memory: 'sram', bytes: 16 * 1024 });
    // every matrix not copied to SRAM, every token: its values and scales
    const copied = new Set(run.plan.buffers.filter((b) => b.copyOf).map((b) => b.copyOf));
    const matrices = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3', 'token_embedding_table'];
    const perToken = run.plan.buffers
      .filter((b) => b.role === 'weights' && matrices.some((m) => b.name === m || b.name === `${m}_scales`) && !copied.has(b.name))
      .reduce((n, b) => n + b.bytes, 0);
    expect(run.stream.words * 4).to.be.at.least(steps * perToken);
    expect(run.stream.wordCycles).to.equal(40);
    // the weights no longer go through the cache: boot (the copies to SRAM) and a few hundred misses a
    // token (code, norms, RoPE rows), where reading them through it misses some 28 thousand times a token
    expect(run.xip!.misses).to.be.below(10_000);
  });

  it("--stream-weights with --threads 2: the streamed products in the ring's order, each block's rows split between the cores, the attention's heads too; the engine's tokens", async () => {
    const steps = 4;
    const run = await runFirmware(
      'stream-2',
      { prompt: 'Once upon a time', steps, temperature: 0, boot2: 'quad', streamWeights: true, threads: 2 },
      true,
    );
    const engine = runEngine(
      loaded.model,
      loaded.tokenizer.encode('Once upon a time', true, false),
      steps,
      { temperature: 0, topp: 0.9, seed: 1 },
      0,
      {
        arithmetic: 'integer',
      },
    );
    expect(idLines(run.output)).to.deep.equal(engine.idLines);
    expect(run.core1.inRomWait, 'core 1 was launched').to.equal(false);
    const forward = readFileSync(join(tmp.dir, 'stream-2', 'forward.c'), 'utf8');
    expect(forward).to.match(/multihead_attention\(loff, soff, pos\);/);
    expect(forward, 'no feed-forward job over streamed matrices').to.not.match(/ffn_hidden\(/);
    expect(forward, 'SwiGLU in forward(), after the two streamed products').to.match(
      /swiglu_int_hidden172\(forward_state\.hb, forward_state\.hb2, forward_weights\.exp_table\);/,
    );
    // a streamed block goes through the wrapper for its rows, which hands half of them to core 1
    const block = /(matmul_\d+x\d+_q8_int_s\d+)\(forward_state\.hb \+ r, forward_state\.xq, forward_state\.xm, wv, ws\);/.exec(forward);
    expect(block, 'w1 a block at a time through a wrapper').to.not.equal(null);
    const wrappers = readFileSync(join(tmp.dir, 'stream-2', 'forward_parallel.c'), 'utf8');
    expect(wrappers).to.match(new RegExp(`void ${block![1]}\\(.*\\n.*parallel_worth[\\s\\S]*?parallel_rows\\(${block![1]}_rows`));
  });
});
