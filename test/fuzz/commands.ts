/**
 * The command lines the fuzz cases run, one per command that reads a checkpoint or a tokenizer,
 * each as cheap as the command allows (two tokens, one short sequence), and the files a case
 * directory starts with.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { describeError } from '../../src/util/errors.js';
import type { Fixtures } from './fixtures.js';

export type Command = 'inspect' | 'generate' | 'quantize' | 'plan' | 'report' | 'build';

/** The arguments of `command` on model `m` and tokenizer `z` (paths relative to the case directory). */
export function commandArgs(command: Command, m: string, z: string): string[] {
  switch (command) {
    case 'inspect':
      return ['inspect', m];
    case 'generate':
      return ['generate', '-m', m, '-z', z, '-n', '2', '-s', '1', '-t', '0'];
    case 'quantize':
      return ['quantize', m, '-o', 'out.bin', '-q'];
    case 'plan':
      return ['plan', '-m', m, '-z', z];
    case 'report':
      return ['report', '-m', m, '-z', z, '--quant', 'q8_0', '--sequences', '1', '--length', '4', '-q'];
    case 'build':
      return ['build', '--target', 'host', '-m', m, '-z', z, '-o', 'build'];
  }
}

const cache = new Map<string, Uint8Array>();

/** The bytes of a fixture file (read once). */
export function fixtureBytes(path: string): Uint8Array {
  let bytes = cache.get(path);
  if (!bytes) cache.set(path, (bytes = new Uint8Array(readFileSync(path))));
  return bytes;
}

/** Writes `bytes` as `name` in `dir`. */
export function put(dir: string, name: string, bytes: Uint8Array | string): void {
  writeFileSync(join(dir, name), bytes);
}

/** Copies the good stories260K (v0) and tok512 into `dir` as model.bin and tok.bin. */
export function putGoodInputs(dir: string, fx: Fixtures): void {
  copyFileSync(fx.v0, join(dir, 'model.bin'));
  copyFileSync(fx.tok512, join(dir, 'tok.bin'));
}

/** Why `path` (in `dir`) is not a readable checkpoint, or undefined when it is one. */
export function notACheckpoint(dir: string, path: string): string | undefined {
  try {
    readCheckpoint(join(dir, path));
    return undefined;
  } catch (err) {
    return `exit 0, but ${path} is not a readable checkpoint: ${describeError(err)}`;
  }
}

/** The check after a successful quantize: its output must read back. */
export const quantizeOutputReads = (dir: string) => notACheckpoint(dir, 'out.bin');
