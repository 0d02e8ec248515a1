/**
 * The generated host program: tokens/s for stories260K and for random models with the shapes of
 * stories15M and stories110M, specialized (every shape a constant) against a generic build of the
 * same kernels (shapes passed at run time, scalar loops as in llama2.c's runq.c), 1 and 2 threads;
 * build times; and weight bytes streamed per second against the machine's read bandwidth.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpoint } from '../src/checkpoint/write.js';
import type { Config } from '../src/checkpoint/model.js';
import { locateModelFile } from '../src/models/locate.js';
import { projectRoot } from '../src/util/project-root.js';
import { build, type BuildRequest } from '../src/toolchain/build.js';
import { formatBytes } from '../src/util/progress.js';
import { randomModel, STORIES110M, STORIES15M } from '../test/helpers/random-model.js';

interface ProgramRun {
  /** The median of the rounds. */
  tokensPerSecond: number;
  /** The fastest round: interference from other tenants only ever slows a run down. */
  best: number;
}

/** tok/s of one run, as the program itself measures it (run.c's way). */
function runOnce(program: string, steps: number, threads: number): number {
  const r = spawnSync(program, ['-i', 'Once upon a time', '-n', String(steps), '-t', '0', '--threads', String(threads)], {
    encoding: 'utf8',
  });
  const m = /achieved tok\/s: ([\d.]+)/.exec(r.stderr);
  if (!m) throw new Error(`${program} printed no tok/s: ${r.stderr}`);
  return Number(m[1]);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Medians (and the best) over `repeats` rounds, each round running every configuration once in
 * turn: the machine's speed drifts (other tenants, clocks), and interleaving spreads the drift
 * over all of them instead of charging it to whichever ran during a slow spell.
 */
function interleaved(configs: { program: string; threads: number }[], steps: number, repeats = 7): ProgramRun[] {
  const rates = configs.map(() => [] as number[]);
  for (let i = 0; i < repeats; i++) configs.forEach((c, j) => rates[j].push(runOnce(c.program, steps, c.threads)));
  return rates.map((r) => ({ tokensPerSecond: median(r), best: Math.max(...r) }));
}

/** The largest CPU cache (Linux sysfs), or undefined where it cannot be read. */
function lastLevelCacheBytes(): number | undefined {
  const base = '/sys/devices/system/cpu/cpu0/cache';
  try {
    const sizes = readdirSync(base)
      .filter((d) => d.startsWith('index'))
      .map((d) => /^(\d+)K$/.exec(readFileSync(join(base, d, 'size'), 'utf8').trim()))
      .map((m) => (m ? Number(m[1]) * 1024 : 0));
    return sizes.length ? Math.max(...sizes) : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes per second that `threads` threads read streaming through memory (bench/stream.c). */
function streamBandwidth(dir: string, threads: number): number {
  const exe = join(dir, 'stream');
  execFileSync('cc', ['-O2', '-pthread', '-o', exe, join(projectRoot(), 'bench', 'stream.c')]);
  return Number(execFileSync(exe, [String(threads)], { encoding: 'utf8' }).trim());
}

async function buildQuiet(req: BuildRequest) {
  return build(req, () => {});
}

function line(cells: string[], widths: number[]): string {
  return `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ')}`;
}

export async function benchHost(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-'));
  try {
    const bandwidth = streamBandwidth(dir, 1);
    const bandwidth2 = streamBandwidth(dir, 2);
    const rows: string[][] = [];
    const ceilings: string[] = [];
    const llc = lastLevelCacheBytes();
    const models: { name: string; checkpoint: string; tokenizer: string; steps: number; config?: Config }[] = [
      { name: 'stories260K', checkpoint: locateModelFile('stories260K.bin'), tokenizer: locateModelFile('tok512.bin'), steps: 256 },
    ];
    for (const [name, config, steps] of [
      ['random stories15M', STORIES15M, 200],
      ['random stories110M', STORIES110M, 48],
    ] as const) {
      const checkpoint = join(dir, `${name.replace(/ /g, '-')}.bin`);
      writeCheckpoint(checkpoint, randomModel(config, 1), 'v1');
      models.push({ name, checkpoint, tokenizer: locateModelFile('tokenizer.bin'), steps, config });
    }
    for (const m of models) {
      const base = { target: 'host', model: m.checkpoint, tokenizer: m.tokenizer, quant: 'q8_0' as const };
      const specialized = await buildQuiet({ ...base, out: join(dir, `${m.name}-specialized`) });
      const generic = await buildQuiet({ ...base, out: join(dir, `${m.name}-generic`), generic: true });
      const weightBytes = specialized.plan.weightsBytes;
      const [g1, s1, s2] = interleaved(
        [
          { program: generic.info.executable, threads: 1 },
          { program: specialized.info.executable, threads: 1 },
          { program: specialized.info.executable, threads: 2 },
        ],
        m.steps,
      );
      const buildSeconds = specialized.seconds.load + specialized.seconds.emit + specialized.seconds.compile;
      const times = (a: ProgramRun, b: ProgramRun) => `${(a.tokensPerSecond / b.tokensPerSecond).toFixed(2)}×`;
      const bestTimes = (a: ProgramRun, b: ProgramRun) => `${(a.best / b.best).toFixed(2)}×`;
      for (const [label, run, ratio, bestRatio] of [
        ['generic, 1 thread (baseline)', g1, 'baseline', ''],
        ['specialized, 1 thread', s1, `${times(s1, g1)} baseline`, `${bestTimes(s1, g1)}`],
        ['specialized, 2 threads', s2, `${times(s2, s1)} 1 thread`, `${bestTimes(s2, s1)}`],
      ] as const) {
        rows.push([
          `${m.name} Q8_0 ${label}`,
          `${run.tokensPerSecond.toFixed(1)} tok/s`,
          ratio,
          `best ${run.best.toFixed(1)}${bestRatio ? ` (${bestRatio})` : ''}`,
          `${formatBytes(weightBytes * run.tokensPerSecond)}/s weights (${((100 * weightBytes * run.tokensPerSecond) / (run === s2 ? bandwidth2 : bandwidth)).toFixed(0)}% of the ${run === s2 ? 2 : 1}-thread stream)`,
        ]);
      }
      // every token reads all the weights: when they do not fit the caches, two threads cannot go
      // faster than the memory lets two threads read
      if (llc !== undefined && weightBytes > llc) {
        const ceiling = bandwidth2 / (weightBytes * s1.tokensPerSecond);
        ceilings.push(
          `${m.name}: ${ceiling.toFixed(2)}× (${formatBytes(weightBytes)} of weights, larger than the ${formatBytes(llc)} cache; 1 thread streams ${formatBytes(weightBytes * s1.tokensPerSecond)}/s of them)`,
        );
      }
      rows.push([`${m.name} build (quantize, plan, emit, compile)`, `${buildSeconds.toFixed(1)} s`, '', '', '']);
    }
    const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i].length)));
    process.stdout.write(
      `\ngenerated host program (streaming-read bandwidth of this machine: ${formatBytes(bandwidth)}/s with 1 thread, ${formatBytes(bandwidth2)}/s with 2; tok/s: the median of 7 interleaved rounds, and the best round)\n`,
    );
    for (const r of rows) process.stdout.write(`${line(r, widths)}\n`);
    if (ceilings.length > 0) {
      process.stdout.write(
        `  the most 2 threads can gain where the weights come from memory (2-thread stream / 1 thread's weight bytes per second):\n${ceilings.map((c) => `    ${c}\n`).join('')}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
