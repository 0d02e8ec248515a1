/**
 * stories15M's shapes on an RP2040 board with 16 MB of flash (issue 19), in rp2040js with the XIP
 * timing model: a seeded random model of those shapes (the real checkpoint is not downloaded here;
 * its speed is the same, as every shape and every byte read is), Q4_0 with groups of 32, integer
 * kernels, the classifier in row blocks with a running argmax, the quad boot2 (EBh, 4-4-4, which
 * the W25Q128JV of such boards supports). At 133 MHz, on one core, then on both (`--threads 2`:
 * the row pairs of every matmul split between the cores, both emulated), each with the weights read
 * through the XIP cache and streamed by DMA from the XIP stream FIFO (`--stream-weights`).
 * LLAMA2_EMBED_15M_ROWS=stream (or cache) runs only those rows: each takes minutes.
 *
 * Prints the cycles per token (the firmware's SysTick, from the end of the first forward pass) and
 * tok/s at 133 MHz (and at 200 MHz: `--clock 200` keeps boot2's SSI divisor, so the flash takes the
 * same cycles), what bounds it (the core's cycles stalled on XIP misses against the rest, and
 * the flash's share), where the cycles go (PC samples), and checks that the generated tokens are the
 * integer engine's, bit for bit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpoint } from '../src/checkpoint/write.js';
import { formatProfile } from '../src/emulator/profiler.js';
import { Rp2040Emulator } from '../src/emulator/rp2040.js';
import { loadForGeneration } from '../src/engine/load.js';
import { quantizeModel } from '../src/quant/schemes.js';
import { build } from '../src/toolchain/build.js';
import { runEngine } from '../test/helpers/engine-run.js';
import { modelPath } from '../test/helpers/fixtures.js';
import { randomModel, STORIES15M } from '../test/helpers/random-model.js';
import { firmwareStatistics } from './harness.js';

const PROMPT = 'Once upon a time';
/**
 * Positions run: the prompt's 5 and 16 generated tokens; LLAMA2_EMBED_15M_TOKENS=4 generates fewer
 * (the cycles per token change little with the position at this context, and each token is ~1.5 s
 * of emulation on one host core).
 */
const GENERATED = Number(process.env.LLAMA2_EMBED_15M_TOKENS) || 16;
/** The builds measured: one core, then both; LLAMA2_EMBED_15M_THREADS=1 (or 2) measures one of them. */
const THREADS = process.env.LLAMA2_EMBED_15M_THREADS ? [Number(process.env.LLAMA2_EMBED_15M_THREADS)] : [1, 2];
/** The weights' paths measured: through the XIP cache, then streamed; LLAMA2_EMBED_15M_ROWS=cache (or stream) measures one. */
const ROWS = process.env.LLAMA2_EMBED_15M_ROWS;
const PROFILE_INTERVAL = 9973;
const CLOCK_MHZ = 133;

/** `npm run bench -- rp2040-15m` */
export async function benchRp2040Stories15M(): Promise<void> {
  if (!Number.isInteger(GENERATED) || GENERATED < 1 || THREADS.some((t) => t !== 1 && t !== 2)) {
    throw new Error(`LLAMA2_EMBED_15M_TOKENS must be a whole number >= 1 (${GENERATED}) and LLAMA2_EMBED_15M_THREADS 1 or 2 (${THREADS})`);
  }
  if (ROWS !== undefined && ROWS !== 'cache' && ROWS !== 'stream') {
    throw new Error(`LLAMA2_EMBED_15M_ROWS must be cache or stream (${ROWS})`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-rp2040-15m-'));
  try {
    const checkpoint = join(dir, 'random15M-q4_0.bin');
    // the real model's layout: the classifier is the token embedding
    writeCheckpoint(checkpoint, quantizeModel(randomModel(STORIES15M, 2), 'q4_0', { groupSize: 32 }).model, 'own');
    const tokenizer = modelPath('tokenizer.bin');
    const loaded = loadForGeneration({ model: checkpoint, tokenizer });
    const prompt = loaded.tokenizer.encode(PROMPT, true, false);
    const steps = prompt.length - 1 + GENERATED;
    for (const threads of THREADS) {
      for (const stream of [false, true]) {
        if (ROWS !== undefined && ROWS !== (stream ? 'stream' : 'cache')) continue;
        if (!(await measureBuild(dir, checkpoint, tokenizer, loaded, prompt, steps, threads, stream))) process.exitCode = 1;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Builds for `threads` cores, the weights through the cache or streamed (`stream`), runs 16 greedy
 * tokens with the XIP model, prints the figures; true when the tokens are the engine's.
 */
async function measureBuild(
  dir: string,
  checkpoint: string,
  tokenizer: string,
  loaded: ReturnType<typeof loadForGeneration>,
  prompt: number[],
  steps: number,
  threads: number,
  stream: boolean,
): Promise<boolean> {
  const out = join(dir, `build-${threads}-${stream ? 'stream' : 'cache'}`);
  const built = await build(
    {
      target: 'rp2040',
      model: checkpoint,
      tokenizer,
      flashBytes: 16 * 1024 * 1024,
      boot2: 'quad',
      prompt: PROMPT,
      steps,
      temperature: 0,
      exitAfterGeneration: true,
      stdio: 'uart',
      out,
      threads,
      streamWeights: stream,
    },
    () => {},
  );
  const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'), { xipModel: true, profile: { intervalCycles: PROFILE_INTERVAL } });
  const run = await emu.run({ maxSeconds: 7200 });
  const stats = firmwareStatistics(run.output);
  const { cyclesPerToken } = stats;
  const xip = emu.xipReport!;
  const words = emu.streamReport;
  // the stalls of the whole run (boot and the first pass included; both cores' summed when two run) against all its cycles
  const flashShare = xip.stallCycles / run.cycles;
  const stallPerToken = cyclesPerToken * flashShare;
  const computePerToken = cyclesPerToken - stallPerToken;

  const engine = runEngine(loaded.model, prompt, steps, { temperature: 0, topp: 0.9, seed: 1 }, 0, {
    arithmetic: 'integer',
    seqLen: built.plan.seqLen,
    classifier: 'blocks', // the same steps as the firmware
  });
  const ids = run.output.split('\n').filter((l) => /^[PG] \d+$/.test(l));
  const same = JSON.stringify(ids) === JSON.stringify(engine.idLines);

  const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  process.stdout.write(
    `\nstories15M's shapes (random weights, seed 2), Q4_0 group size 32, integer kernels, RP2040 with 16 MB flash, quad boot2, ${threads === 1 ? 'one core' : 'both cores (--threads 2: the row pairs of every matmul split between them)'}, ${stream ? 'the weights STREAMED by DMA from the XIP stream FIFO (--stream-weights)' : 'the weights through the XIP cache'}, rp2040js with the XIP model\n` +
      `  seq_len ${built.plan.seqLen} (what the SRAM holds), classifier in blocks (${built.plan.classifier}); weights ${mib(built.plan.weightsBytes)} in flash\n` +
      `  ${fmt(cyclesPerToken)} cycles/token = ${((CLOCK_MHZ * 1e6) / cyclesPerToken).toFixed(2)} tok/s at ${CLOCK_MHZ} MHz, ${((200 * 1e6) / cyclesPerToken).toFixed(2)} at 200 MHz (the firmware's own figure: ${stats.tokensPerSecond} tok/s over ${stats.positions} positions)\n` +
      `  bound: flash stalls ${fmt(stallPerToken)} cycles/token (${(100 * flashShare).toFixed(1)}%), compute ${fmt(computePerToken)} (${(100 * (1 - flashShare)).toFixed(1)}%): compute / flash = ${(computePerToken / stallPerToken).toFixed(2)}\n` +
      `  XIP: ${fmt(xip.misses)} misses (${fmt(xip.fetch.misses)} code, ${fmt(xip.data.misses)} data), ${xip.lineFill?.cycles} cycles each (${xip.lineFill?.describe}); hit rate ${(100 * xip.hitRate).toFixed(2)}%\n` +
      (stream
        ? `  stream: ${fmt((words.words / run.cycles) * cyclesPerToken)} words/token (${words.wordCycles} cycles each: ${fmt((words.words / run.cycles) * cyclesPerToken * words.wordCycles)} cycles/token on the wire, ${(100 * (words.words / run.cycles) * words.wordCycles).toFixed(1)}% of the token's cycles: the bound when near 100%), core misses waited ${fmt(words.coreWaitCycles)} cycles in all, ${words.underflows} underflows\n`
        : '') +
      `  tokens: ${same ? `the ${GENERATED} generated tokens equal the integer engine's, bit for bit` : `DIFFERENT from the integer engine's:\n    firmware ${ids.join(', ')}\n    engine   ${engine.idLines.join(', ')}`}\n` +
      `  emulated at ${run.emulatedMHz.toFixed(1)} MHz\n\nWhere the cycles go:\n${formatProfile(emu.profile!, 12).replace(/^/gm, '  ')}\n`,
  );
  return same;
}
