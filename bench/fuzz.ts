/**
 * `npm run bench -- fuzz`: the whole fuzz set of test/fuzz (about 600 runs of the real command
 * line on damaged files, bad options, odd paths and SIGKILLs), then the table: tried, clear error,
 * internal error, hang, silent wrong, bytes of user data lost; then every failure by category.
 * LLAMA2_EMBED_FUZZ_JOBS sets how many run at once (default 3); LLAMA2_EMBED_FUZZ_ONLY=text keeps
 * the cases whose name contains it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { allCases } from '../test/fuzz/cases.js';
import { canMknod } from '../test/fuzz/cases-paths.js';
import { passed } from '../test/fuzz/case.js';
import { makeFixtures } from '../test/fuzz/fixtures.js';
import { KNOWN_FAILING } from '../test/fuzz/known-failing.js';
import { runCases } from '../test/fuzz/run-case.js';
import { checkDevNull, compareWithKnown, formatFailures, formatTable } from '../test/fuzz/summary.js';

/** Random cases of each random kind in the full set. */
const RANDOM_PER_KIND = 15;

export async function benchFuzz(): Promise<void> {
  checkDevNull();
  const probe = mkdtempSync(`${tmpdir()}/llama2-embed-fuzz-probe-`);
  const devices = canMknod(probe);
  rmSync(probe, { recursive: true, force: true });
  const only = process.env.LLAMA2_EMBED_FUZZ_ONLY;
  const cases = allCases({ devices, random: RANDOM_PER_KIND }).filter((c) => !only || c.name.includes(only));
  const jobs = Number(process.env.LLAMA2_EMBED_FUZZ_JOBS) || 3;
  process.stdout.write(
    `\nfuzz: ${cases.length} cases, ${jobs} at a time${devices ? '' : ' (no mknod: the character-device cases left out)'}\n`,
  );
  const fx = makeFixtures();
  const start = performance.now();
  let done = 0;
  try {
    const outcomes = await runCases(cases, fx, jobs, (o) => {
      done++;
      if (!passed(o))
        process.stdout.write(`  [${done}/${cases.length}] ${o.category}${o.lostBytes ? `, ${o.lostBytes} bytes lost` : ''}: ${o.name}\n`);
      else if (done % 50 === 0) process.stdout.write(`  [${done}/${cases.length}] ...\n`);
    });
    checkDevNull();
    const { unexpected, nowPassing } = compareWithKnown(outcomes, KNOWN_FAILING);
    process.stdout.write(`\nfuzz results (${((performance.now() - start) / 1000).toFixed(0)} s)\n${formatTable(outcomes)}\n\n`);
    process.stdout.write(`${formatFailures(outcomes, KNOWN_FAILING)}\n`);
    process.stdout.write(`\nnot in KNOWN_FAILING: ${unexpected.length}; in KNOWN_FAILING but passing now: ${nowPassing.length}\n`);
    for (const k of nowPassing) process.stdout.write(`  passes now: ${k.pattern}\n`);
  } finally {
    fx.cleanup();
  }
}
