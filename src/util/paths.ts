/**
 * Checks of the files a command reads and writes, made before any work: an input must be a
 * regular file (a FIFO would block forever, /dev/zero never ends); an output must not be one of
 * the command's inputs (after resolving links), must be of the kind expected (a file, or a
 * directory), and its directory must exist.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UserError } from './errors.js';

/** Longest file name most file systems take (ext4, APFS, NTFS: 255 bytes). */
export const MAX_FILE_NAME_BYTES = 255;

/** What a non-regular file is, in words. */
export function describeFileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'a regular file';
}

/** stat() that turns the errors a user can act on into UserErrors; undefined when nothing is there. */
function statOrUndefined(path: string, label: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') throw new UserError(`${label}: the symbolic links loop (${path} leads back to itself); point it at a real file.`);
    if (code === 'EACCES' || code === 'EPERM') throw new UserError(`${label}: permission denied; make it readable.`);
    if (code === 'ENAMETOOLONG') throw new UserError(`${label}: the path is too long for this file system.`);
    throw err;
  }
}

/**
 * Checks that `path` is a regular file the command can read. `label` names it in messages
 * (`--eval story.txt`, `model.bin`); `expected` says what it should be ("a llama2.c checkpoint").
 */
export function checkInputFile(path: string, label: string, expected: string): void {
  const stats = statOrUndefined(path, label);
  if (stats === undefined) throw new UserError(`${label}: no such file; expected ${expected}. Check the path.`);
  if (!stats.isFile()) {
    throw new UserError(
      `${label}: is ${describeFileKind(stats)}, expected ${expected} (a regular file). Give the path of the file itself.`,
    );
  }
}

/** True when `a` and `b` name the same file (after links), both existing. */
export function sameFile(a: string, b: string): boolean {
  let sa: Stats, sb: Stats;
  try {
    sa = statSync(a);
    sb = statSync(b);
  } catch {
    return false;
  }
  return sa.dev === sb.dev && sa.ino === sb.ino;
}

export interface OutputCheck {
  /** How the user gave it: `-o`, `--out`, `--json`. */
  flag: string;
  /** The files the command reads: the output may be none of them. */
  inputs?: readonly (string | undefined)[];
}

function refuseInput(path: string, check: OutputCheck): void {
  for (const input of check.inputs ?? []) {
    if (input !== undefined && sameFile(path, input)) {
      throw new UserError(
        `${check.flag} ${path} is the input ${input}: writing it would destroy what is being read. Write to another file.`,
        2,
      );
    }
  }
}

function checkParent(path: string, check: OutputCheck): void {
  if (path.trim() === '') throw new UserError(`${check.flag} needs a path, got an empty value.`, 2);
  const dir = dirname(resolve(path));
  const parent = statOrUndefined(dir, `${check.flag} ${path}`);
  if (parent === undefined)
    throw new UserError(`${check.flag} ${path}: the directory ${dir} does not exist; create it first, or write elsewhere.`, 2);
  if (!parent.isDirectory()) throw new UserError(`${check.flag} ${path}: ${dir} is ${describeFileKind(parent)}, not a directory.`, 2);
  if (Buffer.byteLength(basename(resolve(path))) > MAX_FILE_NAME_BYTES) {
    throw new UserError(`${check.flag} ${path}: the file name is longer than ${MAX_FILE_NAME_BYTES} bytes; give a shorter name.`, 2);
  }
}

/**
 * Checks a file the command will write, before any work. An existing regular file is replaced
 * (atomically, see atomic.ts); a character device or FIFO (`/dev/null`, `/dev/stdout`) is written
 * to in place; a directory, or one of the command's inputs, is refused.
 */
export function checkOutputFile(path: string, check: OutputCheck): void {
  checkParent(path, check);
  const stats = statOrUndefined(path, `${check.flag} ${path}`);
  if (stats === undefined) return;
  if (stats.isDirectory())
    throw new UserError(`${check.flag} ${path} is a directory; give a file name (for example ${resolve(path, 'out')}).`, 2);
  if (!stats.isFile() && !stats.isCharacterDevice() && !stats.isFIFO()) {
    throw new UserError(`${check.flag} ${path} is ${describeFileKind(stats)}; give a file name.`, 2);
  }
  refuseInput(path, check);
}

/**
 * Checks a directory the command will create or replace as a whole (a build's output), before
 * any work: an existing file (a model, say) is refused, and so is a directory that holds an input.
 */
export function checkOutputDirectory(path: string, check: OutputCheck): void {
  checkParent(path, check);
  const stats = statOrUndefined(path, `${check.flag} ${path}`);
  if (stats === undefined) return;
  if (!stats.isDirectory()) {
    throw new UserError(
      `${check.flag} ${path} is ${describeFileKind(stats)}; it must be a directory (it is created if missing). Give another path.`,
      2,
    );
  }
  const dir = realpathSync(path);
  for (const input of check.inputs ?? []) {
    if (input !== undefined && realpathSync(input).startsWith(`${dir}/`)) {
      throw new UserError(
        `${check.flag} ${path} holds the input ${input}, and a build replaces its output directory whole. Build elsewhere.`,
        2,
      );
    }
  }
}
