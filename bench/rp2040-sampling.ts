/**
 * Sampling against greedy on the RP2040, in rp2040js (`npm run bench -- rp2040-sampling`): the
 * default build (stories260K, Q8_0, integer kernels, seq_len 512), prompt "One day", greedy and
 * then monitor's default sampling (temperature 1.0, top-p 0.9, seed 42), at 133 MHz and at
 * `--clock 200`. Core cycles per token are the mean over the timed forward passes plus sampling
 * (the firmware's SysTick: the line it prints); tok/s is cycles at the build's clk_sys. The
 * emulator counts core cycles and does not model the PLL, so a 200 MHz figure is the same cycles
 * at 200 MHz: on silicon, flash (XIP) stalls would not scale with the clock. No XIP model here:
 * the sampler's cost is core cycles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rp2040Emulator } from '../src/emulator/rp2040.js';
import { build } from '../src/toolchain/build.js';
import { firmwareStatistics } from './harness.js';

/** Forward passes: the firmware times from the end of the first one. */
const STEPS = 49;

interface Run {
  name: string;
  cycles: number;
  tokensPerSecond: number;
  tokens: number;
  mhz: number;
}

async function measure(dir: string, name: string, sampling: { temperature: number; topp: number }, clockMHz?: number): Promise<Run> {
  const out = join(dir, name.replace(/[^a-z0-9]+/gi, '-'));
  await build(
    {
      target: 'rp2040',
      model: 'stories260K.bin',
      prompt: 'One day',
      steps: STEPS,
      ...sampling,
      seed: 42n,
      ...(clockMHz === undefined ? {} : { clockMHz }),
      exitAfterGeneration: true,
      stdio: 'uart',
      out,
    },
    () => {},
  );
  const run = await (await Rp2040Emulator.load(join(out, 'firmware.uf2'))).run({ maxSeconds: 600 });
  const stats = firmwareStatistics(run.output, `${name}: the firmware`);
  return { name, tokensPerSecond: stats.tokensPerSecond, tokens: stats.positions, cycles: stats.cyclesPerToken, mhz: stats.mhz };
}

export async function benchRp2040Sampling(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-rp2040-sampling-'));
  try {
    const greedy = { temperature: 0, topp: 0.9 };
    const sampled = { temperature: 1, topp: 0.9 };
    const pairs: [Run, Run][] = [];
    for (const clock of [undefined, 200]) {
      const suffix = clock === undefined ? '' : `, --clock ${clock}`;
      pairs.push([
        await measure(dir, `greedy${suffix}`, greedy, clock),
        await measure(dir, `sampled t 1.0 p 0.9${suffix}`, sampled, clock),
      ]);
    }
    process.stdout.write(
      '\nstories260K on the RP2040 (rp2040js, default build: Q8_0, integer kernels, seq_len 512; prompt "One day", seed 42; ' +
        "cycles per token from the firmware's SysTick, forward pass + sampling, no XIP model; tok/s = clk_sys / cycles)\n",
    );
    const width = Math.max(...pairs.flat().map((r) => r.name.length));
    for (const [g, s] of pairs) {
      for (const r of [g, s]) {
        const ratio = r === s ? `  ${((100 * s.tokensPerSecond) / g.tokensPerSecond).toFixed(1)}% of greedy` : '';
        process.stdout.write(
          `  ${r.name.padEnd(width)}  ${r.cycles.toLocaleString('en-US').padStart(11)} cycles/token  ${r.tokensPerSecond.toFixed(2).padStart(6)} tok/s at ${r.mhz} MHz (${r.tokens} tokens)${ratio}\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
