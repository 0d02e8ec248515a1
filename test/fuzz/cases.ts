/**
 * The whole fuzz set, and the small seeded sample of it that `npm test` runs.
 */
import fc from 'fast-check';
import type { CaseGroup, FuzzCase } from './case.js';
import { cliCases } from './cases-cli.js';
import { checkpointCases, tokenizerCases } from './cases-inputs.js';
import { killCases } from './cases-kill.js';
import { pathCases } from './cases-paths.js';
import { FUZZ_SEED, randomCases } from './cases-random.js';

/** Every case: `devices` adds the character-device ones (they need mknod, i.e. root); `random` cases of each random kind. */
export function allCases(options: { devices: boolean; random: number }): FuzzCase[] {
  const cases = [
    ...checkpointCases(),
    ...tokenizerCases(),
    ...cliCases(),
    ...pathCases(options.devices),
    ...killCases(),
    ...randomCases(options.random),
  ];
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.name)) throw new Error(`fuzz: two cases are named ${c.name}`);
    seen.add(c.name);
  }
  return cases;
}

/** How many cheap cases of each group the `npm test` sample takes. */
export const SAMPLE_SIZES: Record<CaseGroup, number> = { checkpoint: 14, tokenizer: 6, cli: 10, path: 8, kill: 2, random: 4 };

/**
 * The `npm test` sample: per group, a seeded draw of cheap cases (the same draw every run), plus
 * the named `builds` (a build takes about 10 s).
 */
export function sampleCases(cases: readonly FuzzCase[], builds: readonly string[]): FuzzCase[] {
  const picked: FuzzCase[] = [];
  for (const [group, size] of Object.entries(SAMPLE_SIZES) as [CaseGroup, number][]) {
    const pool = cases.filter((c) => c.group === group && c.cost === 'cheap');
    const k = Math.min(size, pool.length);
    const [draw] = fc.sample(fc.shuffledSubarray(pool, { minLength: k, maxLength: k }), { seed: FUZZ_SEED, numRuns: 1 });
    picked.push(...draw);
  }
  for (const name of builds) {
    const c = cases.find((x) => x.name === name);
    if (!c) throw new Error(`fuzz: no case named ${name}`);
    picked.push(c);
  }
  return picked;
}
