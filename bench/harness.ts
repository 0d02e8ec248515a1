/**
 * A tiny benchmark harness: each figure is the median of several timed runs, and every figure is
 * printed beside a baseline measured in the same process, as a ratio, so that the numbers mean
 * something on whatever machine runs them.
 */
export interface Measurement {
  name: string;
  /** Median seconds per run. */
  seconds: number;
  /** Units of work per run (tokens, bytes, …), for the rate column. */
  work?: number;
  unit?: string;
}

export function measure(
  name: string,
  run: () => number | void,
  options: { repeats?: number; warmup?: number; unit?: string } = {},
): Measurement {
  const repeats = options.repeats ?? 5;
  for (let i = 0; i < (options.warmup ?? 1); i++) run();
  const times: number[] = [];
  let work: number | undefined;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const result = run();
    times.push((performance.now() - start) / 1000);
    if (typeof result === 'number') work = result;
  }
  times.sort((a, b) => a - b);
  return { name, seconds: times[Math.floor(times.length / 2)], work, unit: options.unit };
}

export function report(title: string, baseline: Measurement, others: Measurement[]): void {
  const rows = [baseline, ...others].map((m) => {
    const rate = m.work !== undefined ? `${(m.work / m.seconds).toFixed(1)} ${m.unit ?? ''}/s` : '';
    const ratio = m === baseline ? 'baseline' : `${(m.seconds / baseline.seconds).toFixed(2)}× the time`;
    return [m.name, `${(m.seconds * 1000).toFixed(2)} ms`, rate, ratio];
  });
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
  process.stdout.write(`\n${title}\n`);
  for (const r of rows)
    process.stdout.write(`  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ')}\n`);
}

/** The firmware's statistics line (templates/rp2040/main.c): tok/s, positions timed, cycles per token and the clock. */
export interface FirmwareStatistics {
  tokensPerSecond: number;
  positions: number;
  cyclesPerToken: number;
  mhz: number;
}

/** Reads the statistics line a firmware prints after its story (`achieved tok/s: …`); throws, with the output's end, when there is none. */
export function firmwareStatistics(output: string, what = 'the firmware'): FirmwareStatistics {
  const m = /achieved tok\/s: ([\d.]+) \((\d+) tokens, (\d+) cycles per token at (\d+) MHz\)/.exec(output);
  if (!m) throw new Error(`${what} printed no statistics:\n${output.slice(-500)}`);
  return { tokensPerSecond: Number(m[1]), positions: Number(m[2]), cyclesPerToken: Number(m[3]), mhz: Number(m[4]) };
}
