/**
 * Mocha root hooks (loaded by .mocharc.cjs's `require`, before any test file). Before anything
 * runs it says which models and tools are missing here and the command that gets each; after the
 * run it sums up the tests that were skipped for them, by reason. See ./needs.ts.
 */
import { aptInstallLine, pullCommands, toolRequirement } from '../../src/doctor/requirements.js';
import { CLI_IN_A_CLONE, isCI, missingNeeds, skipped } from './needs.js';

/** The lines printed before the run when something is missing (none when all is here). */
export function preflightLines(): string[] {
  const { models, tools } = missingNeeds();
  if (models.length === 0 && tools.length === 0) return [];
  const consequence = isCI() ? 'CI=true: the tests that need them will FAIL.' : 'The tests that need them will be skipped.';
  const lines = [`Missing here. ${consequence} (npm run doctor checks everything.)`];
  if (models.length > 0) {
    lines.push(`  models: ${models.join(', ')}; get them with:`, `    ${pullCommands(models, CLI_IN_A_CLONE).join(' && ')}`);
  }
  if (tools.length > 0) {
    lines.push(`  tools: ${tools.join(', ')}; install them with:`, `    ${aptInstallLine(tools.map(toolRequirement))}`);
  }
  return lines;
}

/** The summary of skipped tests printed after the run (none when nothing was skipped). */
export function skipSummaryLines(): string[] {
  if (skipped.size === 0) return [];
  const total = [...skipped.values()].reduce((a, b) => a + b, 0);
  return [
    `${total} test${total === 1 ? '' : 's'} skipped because something they need is missing (counted as pending below):`,
    ...[...skipped].map(([reason, n]) => `  ${String(n).padStart(4)}  ${reason}`),
  ];
}

const before = preflightLines();
if (before.length > 0) console.log(`\n${before.join('\n')}\n`);

/** Mocha's root hooks: the skip summary after the last test. */
export const mochaHooks = {
  afterAll(): void {
    const lines = skipSummaryLines();
    if (lines.length > 0) console.log(`\n${lines.join('\n')}`);
  },
};
