/**
 * SIGKILLs in the middle of a write: `quantize -o` over an existing good file, and `build` into an
 * existing good build directory. The whole process group is killed at once (the command, make and
 * the compiler), as when a machine loses power. Afterwards the old file or directory must be intact,
 * or the new one complete and valid; anything else loses the old data.
 */
import { copyFileSync, cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FuzzCase } from './case.js';
import { putGoodInputs } from './commands.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import type { Fixtures, GoodBuild } from './fixtures.js';
import { buildArgs } from './fixtures.js';
import type { Snapshot } from './snapshot.js';

/** The kill points of quantize, in ms after the start (the write comes last, about 0.5–1.5 s in). */
export const QUANTIZE_KILL_DELAYS = [250, 400, 550, 650, 750, 850, 950, 1100, 1300, 1600];

/** Kill points of build: after a line of its progress on stderr, plus a delay. */
export const BUILD_KILL_POINTS: { after: RegExp; label: string; delayMs: number }[] = [
  { after: /\[3\/4\] writing/, label: 'writing+0ms', delayMs: 0 },
  { after: /\[3\/4\] writing/, label: 'writing+150ms', delayMs: 150 },
  { after: /\[3\/4\] writing/, label: 'writing+600ms', delayMs: 600 },
  { after: /compiling forward\.c/, label: 'compiling+300ms', delayMs: 300 },
  { after: /linking/, label: 'linking+0ms', delayMs: 0 },
  { after: /linking/, label: 'linking+100ms', delayMs: 100 },
];

/**
 * quantize q4_0 over old.bin (a Q8_0 v2 file), killed `delayMs` after the start or, with
 * `onNewFile`, after the first file it creates (its temporary file, during the write): old.bin
 * must be as it was, or a complete Q4_0 file.
 */
function quantizeKill(delayMs: number, onNewFile = false): FuzzCase {
  return {
    name: `kill/quantize-over-existing/${onNewFile ? 'new-file+' : ''}${delayMs}ms`,
    group: 'kill',
    expect: 'either',
    cost: 'cheap',
    setup(dir, fx) {
      putGoodInputs(dir, fx);
      copyFileSync(fx.v2, join(dir, 'old.bin'));
      return {
        args: ['quantize', './model.bin', '-o', './old.bin', '--quant', 'q4_0', '-q'],
        kill: {
          delayMs,
          afterNewFile: onNewFile,
          judge(d, before, after) {
            const others = [...before].filter(([p, e]) => p !== 'old.bin' && e.kind === 'file' && after.get(p)?.sha256 !== e.sha256);
            const othersLost = others.reduce((sum, [, e]) => sum + (e.size ?? 0), 0);
            const old = before.get('old.bin')!;
            if (after.get('old.bin')?.sha256 === old.sha256) return { lost: othersLost };
            try {
              const model = readCheckpoint(join(d, 'old.bin'));
              if (model.layers[0].wq.dtype === 'q4_0') return { lost: othersLost };
              return {
                lost: othersLost + old.size!,
                problem: `old.bin is neither the old file nor the new Q4_0 one (${model.layers[0].wq.dtype})`,
              };
            } catch (err) {
              return { lost: othersLost + old.size!, problem: `old.bin is damaged: ${(err as Error).message.slice(0, 200)}` };
            }
          },
        },
      };
    },
  };
}

/** Files of two build directories that differ (build-info.json names its own paths: compared apart). */
function differences(a: Snapshot, b: Snapshot): string[] {
  const names = new Set([...a.keys(), ...b.keys()].filter((p) => p !== 'build-info.json'));
  return [...names].filter((p) => a.get(p)?.kind === 'file' && a.get(p)?.sha256 !== b.get(p)?.sha256);
}

function quantOfBuildInfo(dir: string): string | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dir, 'build-info.json'), 'utf8')) as { request?: { quant?: string | null } };
    return String(info.request?.quant ?? 'fp32');
  } catch {
    return undefined;
  }
}

/** Judges a build directory after a kill: the old fp32 build intact, or the new Q8_0 one complete. */
function judgeBuild(
  dir: string,
  before: Snapshot,
  after: Snapshot,
  oldBuild: GoodBuild,
  newBuild: GoodBuild,
): { lost: number; problem?: string } {
  const under = (s: Snapshot) => new Map([...s].filter(([p]) => p.startsWith('build/')).map(([p, e]) => [p.slice('build/'.length), e]));
  const now = under(after);
  const info = quantOfBuildInfo(join(dir, 'build'));
  const oldDiff = differences(oldBuild.files, now);
  if (oldDiff.length === 0 && info === 'fp32') return { lost: 0 };
  const newDiff = differences(newBuild.files, now);
  if (newDiff.length === 0 && info === 'q8_0') return { lost: 0 };
  const old = under(before);
  const lost = [...old]
    .filter(([p, e]) => e.kind === 'file' && now.get(p)?.sha256 !== e.sha256)
    .reduce((sum, [, e]) => sum + (e.size ?? 0), 0);
  return {
    lost: Math.max(lost, 1),
    problem: `the build directory is neither the old build nor a complete new one (build-info: ${info ?? 'unreadable'}; differs from the old in ${oldDiff.slice(0, 4).join(', ')}; from the new in ${newDiff.slice(0, 4).join(', ')})`,
  };
}

/** build --quant q8_0 into a directory holding a good fp32 build, killed at `point`. */
function buildKill(point: (typeof BUILD_KILL_POINTS)[number]): FuzzCase {
  return {
    name: `kill/build-over-existing/${point.label}`,
    group: 'kill',
    expect: 'either',
    cost: 'build',
    async setup(dir, fx: Fixtures) {
      putGoodInputs(dir, fx);
      const [oldBuild, newBuild] = [await fx.build('fp32'), await fx.build('q8_0')];
      cpSync(oldBuild.dir, join(dir, 'build'), { recursive: true, preserveTimestamps: true });
      return {
        // the fixtures' own inputs, as the reference builds used them (the generated files then match byte for byte)
        args: buildArgs(fx, 'q8_0', 'build'),
        kill: {
          afterStderr: point.after,
          delayMs: point.delayMs,
          judge: (d, before, after) => judgeBuild(d, before, after, oldBuild, newBuild),
        },
      };
    },
  };
}

/** Every kill case. */
export function killCases(): FuzzCase[] {
  return [
    ...QUANTIZE_KILL_DELAYS.map((ms) => quantizeKill(ms)),
    ...[0, 2, 5].map((ms) => quantizeKill(ms, true)),
    ...BUILD_KILL_POINTS.map(buildKill),
  ];
}
