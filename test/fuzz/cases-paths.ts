/**
 * Unusual paths: the output is the input, an existing directory, a file where a directory is
 * expected, under a missing directory; 250-byte names; names with spaces, quotes, a newline and
 * `$(…)`; symbolic-link loops; FIFOs, /dev/zero and /dev/null as inputs; a character device (a
 * /dev/null of our own, made with mknod in the case directory, so the real one is never at
 * stake) as the output.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseRun, Expectation, FuzzCase } from './case.js';
import type { Command } from './commands.js';
import { commandArgs, notACheckpoint, put, putGoodInputs, quantizeOutputReads } from './commands.js';
import type { Fixtures } from './fixtures.js';

/** A name with a space, both quotes, a newline and a command substitution that would create PWNED. */
export const HOSTILE_NAME = `a b'c"d\n$(touch PWNED)\`touch PWNED\`;touch PWNED`;

/** No command in a name was run (by a shell or make). */
function nothingInjected(dir: string): string | undefined {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (name === 'PWNED') found.push(join(d, name));
      if (lstatSync(join(d, name)).isDirectory()) walk(join(d, name));
    }
  };
  walk(dir);
  return found.length ? `a command in a file name was run: ${found.join(', ')} exists` : undefined;
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr}`);
}

/** A character device like /dev/null (1, 3), made in the case directory. */
function mknodNull(path: string): void {
  const r = spawnSync('mknod', [path, 'c', '1', '3']);
  if (r.status !== 0) throw new Error(`mknod ${path} c 1 3 (run the fuzz as root for the device cases): ${r.stderr}`);
}

/** Whether mknod works here (root); the device cases are left out otherwise. */
export function canMknod(dir: string): boolean {
  return spawnSync('mknod', [join(dir, 'probe-null'), 'c', '1', '3']).status === 0;
}

const stillADevice = (name: string) => (dir: string) =>
  lstatSync(join(dir, name)).isCharacterDevice()
    ? undefined
    : `${name}, a character device, was replaced by a ${lstatSync(join(dir, name)).isFile() ? 'regular file' : 'something else'}`;

function pathCase(
  name: string,
  expect: Expectation,
  cost: 'cheap' | 'build',
  prepare: (dir: string, fx: Fixtures) => Omit<CaseRun, 'args'> & { args: string[] },
): FuzzCase {
  return {
    name: `path/${name}`,
    group: 'path',
    expect,
    cost,
    setup(dir, fx) {
      putGoodInputs(dir, fx);
      return prepare(dir, fx);
    },
  };
}

const QUANTIZE = (input: string, output: string) => ['quantize', input, '-o', output, '-q'];

/** A command reading a special input: `-m` (or quantize's input) or `-z`. */
function specialInput(kind: string, make: (dir: string) => string, what: 'model' | 'tokenizer', commands: Command[]): FuzzCase[] {
  return commands.map((command) =>
    pathCase(`${kind}-as-${what}/${command}`, 'fail', command === 'build' ? 'build' : 'cheap', (dir) => {
      const path = make(dir);
      return { args: what === 'model' ? commandArgs(command, path, './tok.bin') : commandArgs(command, './model.bin', path) };
    }),
  );
}

/** Every path case; the device ones only when `devices` (mknod works). */
export function pathCases(devices: boolean): FuzzCase[] {
  const long250 = `${'n'.repeat(246)}.bin`;
  const long255 = `${'n'.repeat(251)}.bin`;
  const readers: Command[] = ['inspect', 'generate', 'quantize', 'plan', 'report'];
  const fifo = (dir: string) => (mkfifo(join(dir, 'fifo')), './fifo');
  const loop = (dir: string) => (symlinkSync('loop2', join(dir, 'loop1')), symlinkSync('loop1', join(dir, 'loop2')), './loop1');
  const directory = (dir: string) => (mkdirSync(join(dir, 'adir')), './adir');
  const cases: FuzzCase[] = [
    // the output is the input
    pathCase('quantize-output-is-input', 'fail', 'cheap', () => ({ args: QUANTIZE('./model.bin', './model.bin') })),
    pathCase('quantize-output-is-input-spelled-differently', 'fail', 'cheap', (dir) => ({
      args: QUANTIZE('./model.bin', join(dir, '.', 'model.bin')),
    })),
    pathCase(
      'quantize-output-is-symlink-to-input',
      'either',
      'cheap',
      (dir) => (
        symlinkSync('model.bin', join(dir, 'link.bin')),
        { args: QUANTIZE('./model.bin', './link.bin'), outputs: ['link.bin'], checkSuccess: (d) => quantizeOutputReadsAt(d, 'link.bin') }
      ),
    ),
    pathCase(
      'quantize-output-is-hardlink-to-input',
      'either',
      'cheap',
      (dir) => (
        linkSync(join(dir, 'model.bin'), join(dir, 'hard.bin')),
        { args: QUANTIZE('./model.bin', './hard.bin'), outputs: ['hard.bin'], checkSuccess: (d) => quantizeOutputReadsAt(d, 'hard.bin') }
      ),
    ),
    pathCase('report-json-is-input', 'fail', 'cheap', () => ({
      args: [
        'report',
        '-m',
        './model.bin',
        '-z',
        './tok.bin',
        '--quant',
        'q8_0',
        '--sequences',
        '1',
        '--length',
        '4',
        '-q',
        '--json',
        './model.bin',
      ],
    })),
    pathCase('report-html-is-tokenizer', 'fail', 'cheap', () => ({
      args: [
        'report',
        '-m',
        './model.bin',
        '-z',
        './tok.bin',
        '--quant',
        'q8_0',
        '--sequences',
        '1',
        '--length',
        '4',
        '-q',
        '--out',
        './tok.bin',
      ],
    })),
    pathCase('build-output-is-model-dir', 'either', 'build', () => ({
      args: commandArgs('build', './model.bin', './tok.bin').slice(0, -1).concat('.'),
    })),
    // the output is a directory, or a file where a directory is expected, or under a missing directory
    pathCase(
      'quantize-output-is-directory',
      'fail',
      'cheap',
      (dir) => (mkdirSync(join(dir, 'outdir')), put(dir, 'outdir/keep.txt', 'user data\n'), { args: QUANTIZE('./model.bin', './outdir') }),
    ),
    pathCase(
      'quantize-output-is-directory-slash',
      'fail',
      'cheap',
      (dir) => (mkdirSync(join(dir, 'outdir')), { args: QUANTIZE('./model.bin', './outdir/') }),
    ),
    pathCase('quantize-output-under-a-file', 'fail', 'cheap', () => ({ args: QUANTIZE('./model.bin', './tok.bin/out.bin') })),
    pathCase('quantize-output-parent-missing', 'either', 'cheap', () => ({
      args: QUANTIZE('./model.bin', './missing/out.bin'),
      checkSuccess: (d) => quantizeOutputReadsAt(d, 'missing/out.bin'),
    })),
    pathCase(
      'quantize-output-existing-file',
      'succeed',
      'cheap',
      (dir) => (
        put(dir, 'out.bin', 'old output\n'),
        { args: QUANTIZE('./model.bin', './out.bin'), outputs: ['out.bin'], checkSuccess: quantizeOutputReads }
      ),
    ),
    pathCase(
      'build-output-is-a-file',
      'fail',
      'build',
      (dir) => (put(dir, 'build', 'user data, not a directory\n'), { args: commandArgs('build', './model.bin', './tok.bin') }),
    ),
    pathCase('build-output-parent-missing', 'either', 'build', () => ({
      args: commandArgs('build', './model.bin', './tok.bin').slice(0, -1).concat('missing/deeper/build'),
    })),
    pathCase(
      'build-output-dir-with-user-files',
      'either',
      'build',
      (dir) => (
        mkdirSync(join(dir, 'build')),
        put(dir, 'build/notes.txt', 'my notes\n'),
        { args: commandArgs('build', './model.bin', './tok.bin') }
      ),
    ),
    pathCase('report-json-parent-missing', 'either', 'cheap', () => ({
      args: [
        'report',
        '-m',
        './model.bin',
        '-z',
        './tok.bin',
        '--quant',
        'q8_0',
        '--sequences',
        '1',
        '--length',
        '4',
        '-q',
        '--json',
        './missing/r.json',
      ],
    })),
    pathCase(
      'report-json-is-directory',
      'fail',
      'cheap',
      (dir) => (
        mkdirSync(join(dir, 'outdir')),
        {
          args: [
            'report',
            '-m',
            './model.bin',
            '-z',
            './tok.bin',
            '--quant',
            'q8_0',
            '--sequences',
            '1',
            '--length',
            '4',
            '-q',
            '--json',
            './outdir',
          ],
        }
      ),
    ),
    // long names
    pathCase('quantize-output-250-byte-name', 'either', 'cheap', () => ({
      args: QUANTIZE('./model.bin', long250),
      checkSuccess: (d) => quantizeOutputReadsAt(d, long250),
    })),
    pathCase('quantize-output-255-byte-name', 'either', 'cheap', () => ({
      args: QUANTIZE('./model.bin', long255),
      checkSuccess: (d) => quantizeOutputReadsAt(d, long255),
    })),
    pathCase('quantize-output-256-byte-name', 'fail', 'cheap', () => ({ args: QUANTIZE('./model.bin', `${long255}x`) })),
    ...(['inspect', 'generate', 'quantize', 'plan'] as Command[]).map((command) =>
      pathCase(
        `model-250-byte-name/${command}`,
        'succeed',
        'cheap',
        (dir) => (copyFileSync(join(dir, 'model.bin'), join(dir, long250)), { args: commandArgs(command, `./${long250}`, './tok.bin') }),
      ),
    ),
    // hostile names, as inputs and outputs
    ...(['inspect', 'generate', 'quantize', 'plan', 'report'] as Command[]).map((command) =>
      pathCase(
        `hostile-model-name/${command}`,
        'succeed',
        'cheap',
        (dir) => (
          copyFileSync(join(dir, 'model.bin'), join(dir, HOSTILE_NAME)),
          { args: commandArgs(command, `./${HOSTILE_NAME}`, './tok.bin'), checkAlways: nothingInjected }
        ),
      ),
    ),
    pathCase(
      'hostile-model-name/build',
      'either',
      'build',
      (dir) => (
        copyFileSync(join(dir, 'model.bin'), join(dir, HOSTILE_NAME)),
        { args: commandArgs('build', `./${HOSTILE_NAME}`, './tok.bin'), checkAlways: nothingInjected }
      ),
    ),
    pathCase('hostile-output-name/quantize', 'succeed', 'cheap', () => ({
      args: QUANTIZE('./model.bin', `./${HOSTILE_NAME}.bin`),
      checkAlways: nothingInjected,
      checkSuccess: (d) => quantizeOutputReadsAt(d, `${HOSTILE_NAME}.bin`),
    })),
    pathCase('hostile-output-name/build', 'either', 'build', () => ({
      args: commandArgs('build', './model.bin', './tok.bin').slice(0, -1).concat(`./${HOSTILE_NAME}`),
      checkAlways: nothingInjected,
    })),
    // symbolic-link loops, directories, FIFOs (each run has a time limit: a hang is caught and killed)
    ...specialInput('symlink-loop', loop, 'model', ['inspect', 'generate', 'quantize', 'plan']),
    ...specialInput('symlink-loop', loop, 'tokenizer', ['generate', 'plan']),
    pathCase('quantize-output-is-symlink-loop', 'either', 'cheap', (dir) => (loop(dir), { args: QUANTIZE('./model.bin', './loop1') })),
    ...specialInput('directory', directory, 'model', ['inspect', 'generate', 'quantize', 'plan']),
    ...specialInput('directory', directory, 'tokenizer', ['generate', 'plan']),
    ...specialInput('fifo', fifo, 'model', [...readers, 'build']),
    ...specialInput('fifo', fifo, 'tokenizer', ['generate', 'plan', 'report', 'build']),
    pathCase('fifo-as-eval-text/report', 'fail', 'cheap', (dir) => ({
      args: [...commandArgs('report', './model.bin', './tok.bin'), '--eval', fifo(dir)],
    })),
    ...specialInput('dev-zero', () => '/dev/zero', 'model', ['inspect', 'generate', 'quantize', 'plan']),
    ...specialInput('dev-zero', () => '/dev/zero', 'tokenizer', ['generate', 'plan', 'report']),
    pathCase('dev-zero-as-eval-text/report', 'fail', 'cheap', () => ({
      args: [...commandArgs('report', './model.bin', './tok.bin'), '--eval', '/dev/zero'],
    })),
    ...specialInput('dev-null', () => '/dev/null', 'model', ['inspect', 'generate', 'quantize']),
    ...specialInput('dev-null', () => '/dev/null', 'tokenizer', ['generate', 'plan']),
    ...specialInput('empty-path', () => '', 'model', ['inspect', 'quantize']),
  ];
  if (devices) {
    const nul = (dir: string) => (mknodNull(join(dir, 'null')), './null');
    cases.push(
      pathCase('char-device-as-output/quantize', 'either', 'cheap', (dir) => ({
        args: QUANTIZE('./model.bin', nul(dir)),
        checkAlways: stillADevice('null'),
      })),
      pathCase('char-device-as-output/report-json', 'either', 'cheap', (dir) => ({
        args: [...commandArgs('report', './model.bin', './tok.bin'), '--json', nul(dir)],
        checkAlways: stillADevice('null'),
      })),
      pathCase('char-device-as-output/report-html', 'either', 'cheap', (dir) => ({
        args: [...commandArgs('report', './model.bin', './tok.bin'), '--out', nul(dir)],
        checkAlways: stillADevice('null'),
      })),
      pathCase('char-device-as-output-dir/build', 'fail', 'build', (dir) => ({
        args: commandArgs('build', './model.bin', './tok.bin').slice(0, -1).concat(nul(dir)),
        checkAlways: stillADevice('null'),
      })),
    );
  }
  return cases;
}

/** A successful run's output at `path` must exist and read back as a checkpoint. */
function quantizeOutputReadsAt(dir: string, path: string): string | undefined {
  if (!existsSync(join(dir, path))) return `exit 0, but ${path} was not written`;
  return notACheckpoint(dir, path);
}
