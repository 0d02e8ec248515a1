/**
 * stories260K on the RP2040, in rp2040js: cycles per token for each weights precision, from the
 * firmware's own SysTick count (the line it prints), with fp32 as the baseline. rp2040js models no
 * flash wait states, so these are lower bounds for weights read from flash on a real Pico.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rp2040Emulator } from '../src/emulator/rp2040.js';
import type { WeightPrecision } from '../src/plan/plan.js';
import { build } from '../src/toolchain/build.js';

const STEPS = 12;

async function cyclesPerToken(dir: string, quant: WeightPrecision, groupSize?: number) {
  const out = join(dir, `${quant}-${groupSize ?? 'default'}`);
  const built = await build({ target: 'rp2040', model: 'stories260K.bin', quant, groupSize, prompt: 'Once upon a time', steps: STEPS, temperature: 0, exitAfterGeneration: true, out }, () => {});
  const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'));
  const run = await emu.run({ maxSeconds: 600 });
  const m = /achieved tok\/s: ([\d.]+) \((\d+) tokens, (\d+) cycles per token at (\d+) MHz\)/.exec(run.output);
  if (!m) throw new Error(`the firmware printed no statistics:\n${run.output}`);
  return { cycles: Number(m[3]), tokensPerSecond: Number(m[1]), seqLen: built.plan.seqLen, emulatedMHz: run.emulatedMHz, flash: built.plan.weightsBytes };
}

export async function benchRp2040(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-rp2040-'));
  try {
    const rows: { name: string; r: Awaited<ReturnType<typeof cyclesPerToken>> }[] = [];
    rows.push({ name: 'fp32 (baseline)', r: await cyclesPerToken(dir, 'f32') });
    rows.push({ name: 'Q8_0, group size 64', r: await cyclesPerToken(dir, 'q8_0') });
    rows.push({ name: 'Q8_0, group size 4', r: await cyclesPerToken(dir, 'q8_0', 4) });
    rows.push({ name: 'mixed (Q8_0 embedding, Q4_0 layers), group size 32', r: await cyclesPerToken(dir, 'mixed') });
    const base = rows[0].r.cycles;
    process.stdout.write(`\nstories260K on the RP2040 (rp2040js, ${STEPS} steps, greedy; cycles from the firmware's SysTick)\n`);
    const width = Math.max(...rows.map((x) => x.name.length));
    for (const { name, r } of rows) {
      const ratio = r === rows[0].r ? 'baseline' : `${(base / r.cycles).toFixed(2)}× faster`;
      process.stdout.write(
        `  ${name.padEnd(width)}   ${r.cycles.toLocaleString('en-US').padStart(12)} cycles/token   ${r.tokensPerSecond.toFixed(2).padStart(6)} tok/s at 133 MHz   ${ratio.padEnd(13)}   weights ${(r.flash / 1024).toFixed(0)} KiB, seq_len ${r.seqLen}, emulated at ${r.emulatedMHz.toFixed(0)} MHz\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
