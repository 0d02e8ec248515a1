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
