/** The llama2.c goldens in test/fixtures/golden and the settings their names encode (see its README). */
import { readdirSync } from 'node:fs';
import { goldenDir } from './fixtures.js';

/** What a golden file name says about how it was made (see test/fixtures/golden/README.md). */
export function goldenSettings(file: string) {
  const m = /^stories260K_(f32|q8gs(\d+))_(greedy|t([\d.]+)_p([\d.]+)_s(\d+))_(.+)\.ids$/.exec(file);
  if (!m) throw new Error(`unexpected golden file name ${file}`);
  const prompts: Record<string, string> = { empty: '', once_upon_a_time: 'Once upon a time', one_day: 'One day' };
  if (!(m[7] in prompts)) throw new Error(`unknown prompt in ${file}`);
  return {
    weights: m[1] === 'f32' ? ('f32' as const) : ('q8_0' as const),
    groupSize: m[2] ? Number(m[2]) : undefined,
    temperature: m[3] === 'greedy' ? 0 : Number(m[4]),
    topp: m[3] === 'greedy' ? 0.9 : Number(m[5]),
    seed: m[3] === 'greedy' ? 1 : Number(m[6]),
    prompt: prompts[m[7]],
  };
}

/** The golden `.ids` files' names. */
export function goldenIdFiles(): string[] {
  return readdirSync(goldenDir()).filter((f) => f.endsWith('.ids'));
}
