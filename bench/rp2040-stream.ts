/**
 * Streaming the weights (`build --stream-weights`, doc/rp2040.md "Streaming the weights") against
 * reading them through the XIP cache: stories260K, integer mode, the full 512-position context,
 * "Once upon a time" and 128 greedy tokens timed, in core cycles with the XIP model (the cache and
 * the flash transfers at boot2's SSI set-up, the stream's words at the same set-up), for each
 * boot2. Both builds must generate the same text (the same tokens); the table gives cycles per
 * token, tok/s at 133 MHz, the cache's misses and the stream's words per token, the cycles the
 * core's misses waited for a stream word, and the emulator's own speed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rp2040Emulator, type StreamReport, type XipReport } from '../src/emulator/rp2040.js';
import type { Boot2Variant } from '../src/firmware-image/boot2.js';
import { build } from '../src/toolchain/build.js';
import { firmwareStatistics } from './harness.js';

const TIMED = 128;
const STEPS = TIMED + 1;

interface Row {
  boot2: Boot2Variant;
  stream: boolean;
  cycles: number;
  tokensPerSecond: number;
  xip: XipReport;
  words: StreamReport;
  text: string;
  sramWeightsBytes: number;
  emulatedMHz: number;
}

async function measure(dir: string, boot2: Boot2Variant, stream: boolean): Promise<Row> {
  const out = join(dir, `${boot2}-${stream ? 'stream' : 'cache'}`);
  const built = await build(
    {
      target: 'rp2040',
      model: 'stories260K.bin',
      quant: 'q8_0',
      arithmetic: 'integer',
      boot2,
      streamWeights: stream,
      prompt: 'Once upon a time',
      steps: STEPS,
      temperature: 0,
      exitAfterGeneration: true,
      stdio: 'uart',
      out,
    },
    () => {},
  );
  const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'), { xipModel: true });
  const run = await emu.run({ maxSeconds: 7200 });
  const stats = firmwareStatistics(run.output);
  return {
    boot2,
    stream,
    cycles: stats.cyclesPerToken,
    tokensPerSecond: stats.tokensPerSecond,
    xip: emu.xipReport!,
    words: emu.streamReport,
    // the story, without the statistics line
    text: run.output.replace(/achieved tok\/s[^\n]*\n?/, ''),
    sramWeightsBytes: built.plan.buffers.filter((b) => b.copyOf).reduce((n, b) => n + b.bytes, 0),
    emulatedMHz: run.emulatedMHz,
  };
}

/** `npm run bench -- rp2040-stream`: each boot2, the weights through the XIP cache and streamed by DMA. */
export async function benchRp2040Stream(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-rp2040-stream-'));
  try {
    process.stdout.write(
      `\nstories260K, integer, seq_len 512, the XIP model; ${TIMED} greedy tokens timed after "Once upon a time"; per token: cache misses, stream words (4 bytes)\n`,
    );
    for (const boot2 of ['quad', 'fast', 'safe'] as const) {
      const cache = await measure(dir, boot2, false);
      const stream = await measure(dir, boot2, true);
      if (stream.text !== cache.text)
        throw new Error(`--boot2 ${boot2}: the streaming build generated other tokens:\n${stream.text}\n---\n${cache.text}`);
      for (const r of [cache, stream]) {
        const perToken = (n: number) => (n / STEPS / 1000).toFixed(1);
        process.stdout.write(
          `  ${boot2.padEnd(5)} ${r.stream ? 'stream' : 'cache '}  ${r.cycles.toLocaleString('en-US').padStart(11)} cycles/token ${r.tokensPerSecond.toFixed(2).padStart(6)} tok/s at 133 MHz; ` +
            `misses ${perToken(r.xip.misses + r.xip.uncached)} k (${r.xip.lineFill?.cycles} cycles each), stream ${perToken(r.words.words)} k words (${r.words.wordCycles} cycles each), ` +
            `misses waited ${perToken(r.words.coreWaitCycles)} k cycles; weights in SRAM ${(r.sramWeightsBytes / 1024).toFixed(1)} KiB; emulated at ${r.emulatedMHz.toFixed(1)} MHz\n`,
        );
      }
      process.stdout.write(
        `  ${boot2.padEnd(5)} the same text both ways; streaming ${(cache.cycles / stream.cycles).toFixed(2)}× the cache's speed\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
