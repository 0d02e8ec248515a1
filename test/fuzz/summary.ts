/**
 * The fuzz's table (tried, clear error, internal error, hang, silent wrong, bytes of user data
 * lost; per group and in total), the failures by category, and how they compare with the list of
 * known failures.
 */
import { lstatSync } from 'node:fs';
import type { Category, Outcome } from './case.js';
import { passed } from './case.js';
import type { KnownFailure } from './known-failing.js';
import { knownFailure } from './known-failing.js';

const COLUMNS = ['tried', 'ok', 'clear error', 'refused good input', 'internal error', 'hang', 'silent wrong', 'bytes lost'] as const;
const FAILING: Category[] = ['internal error', 'hang', 'silent wrong', 'refused good input'];

function row(label: string, outcomes: readonly Outcome[]): string[] {
  const count = (c: Category) => String(outcomes.filter((o) => o.category === c).length);
  const lost = outcomes.reduce((sum, o) => sum + o.lostBytes, 0);
  return [
    label,
    String(outcomes.length),
    count('ok'),
    count('clear error'),
    count('refused good input'),
    count('internal error'),
    count('hang'),
    count('silent wrong'),
    lost.toLocaleString('en-US'),
  ];
}

/** The table: one row per group, then the total. */
export function formatTable(outcomes: readonly Outcome[]): string {
  const groups = [...new Set(outcomes.map((o) => o.group))];
  const rows = [
    ['', ...COLUMNS],
    ...groups.map((g) =>
      row(
        g,
        outcomes.filter((o) => o.group === g),
      ),
    ),
    row('total', outcomes),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')}`).join('\n');
}

/** The failing runs, by category (runs that lost data listed under "bytes lost"). */
export function formatFailures(outcomes: readonly Outcome[], list: readonly KnownFailure[]): string {
  const lines: string[] = [];
  const mark = (o: Outcome) => (knownFailure(o.name, list) ? '  (known)' : '  (NEW)');
  for (const category of FAILING) {
    const these = outcomes.filter((o) => o.category === category);
    if (!these.length) continue;
    lines.push(`${category} (${these.length}):`);
    for (const o of these) lines.push(`  ${o.name}${mark(o)}\n      ${o.detail}`);
  }
  const losing = outcomes.filter((o) => o.lostBytes > 0);
  if (losing.length) {
    lines.push(`bytes lost (${losing.length} runs):`);
    for (const o of losing) lines.push(`  ${o.name}: ${o.lostBytes.toLocaleString('en-US')} bytes${mark(o)}\n      ${o.detail}`);
  }
  return lines.join('\n');
}

/**
 * Failing cases not in the list, and the list's entries whose cases all passed this time (at least
 * one of them run): those can come off the list.
 */
export function compareWithKnown(
  outcomes: readonly Outcome[],
  list: readonly KnownFailure[],
): { unexpected: Outcome[]; nowPassing: KnownFailure[] } {
  return {
    unexpected: outcomes.filter((o) => !passed(o) && !knownFailure(o.name, list)),
    nowPassing: list.filter((k) => {
      const covered = outcomes.filter((o) => knownFailure(o.name, list) === k);
      return covered.length > 0 && covered.every(passed);
    }),
  };
}

/** Throws when /dev/null is no longer a character device (a command replaced it: every later test would be wrong). */
export function checkDevNull(): void {
  const stat = lstatSync('/dev/null');
  if (!stat.isCharacterDevice()) {
    throw new Error(
      '/dev/null IS NO LONGER A CHARACTER DEVICE: a command replaced it. Restore it now (as root: rm /dev/null && mknod -m 666 /dev/null c 1 3).',
    );
  }
}
