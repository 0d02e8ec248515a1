/**
 * The build a device runs, as the host knows it: the build directory for the device's target
 * (build/<target>/, or the one given), whether its weights.bin is what the device says it runs
 * (the HELLO's model hash: the first 8 bytes of its SHA-256), and the tokenizer to turn the
 * device's token ids into text (build-info.json says which; without a build, the model's usual
 * one from the model lookup).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUILD_INFO, readBuildInfo } from '../toolchain/build-info.js';
import { defaultTokenizerFor } from '../engine/load.js';
import { isPlainFileName, locateModelFile, modelSearchPath } from '../models/locate.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { printable } from '../util/printable.js';
import type { Hello } from './protocol.js';

export interface DeviceBuild {
  /** The build directory looked at. */
  dir: string;
  /** Whether it holds a finished build (build-info.json). */
  found: boolean;
  /** The first 16 hex digits of the SHA-256 of its weights.bin, when it has one. */
  weightsHash?: string;
  /** true: the device runs this build's weights; false: other weights; undefined: nothing to compare. */
  hashMatches?: boolean;
  tokenizer: Tokenizer;
  tokenizerPath: string;
  /** What the user should know: a mismatch, a missing build. */
  warnings: string[];
}

/** The model hash of a weights blob: the first 8 bytes of its SHA-256, as 16 hex digits. */
export function weightsHash(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex').slice(0, 16);
}

/** The build directory for a device that says `targetName`: `dir` if given, else build/<target>/. */
export function buildDirFor(targetName: string, dir?: string): string {
  if (dir) return resolve(dir);
  const safe = /^[A-Za-z0-9_.-]+$/.test(targetName) && !targetName.startsWith('.') ? targetName : 'unknown-target';
  return resolve('build', safe);
}

/**
 * The build the device runs. `tokenizer` (monitor's -z): decode with this file, whatever the
 * build says.
 */
export function findDeviceBuild(hello: Hello, dir?: string, tokenizer?: string): DeviceBuild {
  const buildDir = buildDirFor(hello.targetName, dir);
  const modelName = printable(hello.modelName);
  const warnings: string[] = [];
  const info = readBuildInfo(buildDir);
  const weights = join(buildDir, 'weights.bin');
  const hash = info && existsSync(weights) ? weightsHash(weights) : undefined;
  let hashMatches: boolean | undefined;
  if (!info) {
    warnings.push(
      `no build in ${buildDir} (no ${BUILD_INFO}) to check the device's model against${dir ? '' : ' (pass --build DIR if it was built elsewhere)'}; ` +
        `decoding its tokens with ${tokenizer === undefined ? `${modelName}'s usual tokenizer` : tokenizer}.`,
    );
  } else if (hash === undefined) {
    warnings.push(`${buildDir} has no weights.bin to check the device's model against.`);
  } else {
    hashMatches = hash === hello.modelHash;
    if (!hashMatches) {
      warnings.push(
        `the device runs other weights than ${weights}: its model hash is ${hello.modelHash}, this build's is ${hash} ` +
          `(device: ${modelName}, ${hello.weights}, seq_len ${hello.seqLen}; build: ${info.model.split(/[\\/]/).pop()}, ${info.plan.weights}, seq_len ${info.plan.seqLen}). ` +
          `Flash this build (llama2-embed flash), or pass --build with the directory the device's firmware came from; ` +
          `the text below may be wrong if the tokenizers differ.`,
      );
    }
  }
  const tokenizerPath =
    tokenizer !== undefined
      ? locateModelFile(tokenizer)
      : info && existsSync(info.tokenizer)
        ? info.tokenizer
        : usualTokenizer(hello, info ? `${buildDir}'s tokenizer ${info.tokenizer} is gone` : undefined, warnings);
  return {
    dir: buildDir,
    found: Boolean(info),
    weightsHash: hash,
    hashMatches,
    tokenizer: Tokenizer.read(tokenizerPath, hello.vocabSize),
    tokenizerPath,
    warnings,
  };
}

/** The tokenizer that usually goes with the device's model, from the model lookup. */
function usualTokenizer(hello: Hello, why: string | undefined, warnings: string[]): string {
  if (!isPlainFileName(hello.modelName)) {
    // a name the device chose must not lead the lookup out of the model directories
    throw new UserError(
      `cannot turn the device's tokens into text: ${why ?? 'no build to take the tokenizer from'}, and the device's model name "${printable(hello.modelName)}" ` +
        'is not a plain file name (it has a "/", "\\", "..", a NUL or a control character, or starts with "."), so it is not looked up in the model directories. ' +
        'Pass --build with the directory the firmware was built in, or -z with its tokenizer.',
    );
  }
  // only the model directories, never the working directory: the checkpoint need not be here at all (its tokenizer's name is enough)
  const found = modelSearchPath()
    .map((place) => join(place.dir, hello.modelName))
    .find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
  const modelPath = found ?? hello.modelName;
  try {
    const path = locateModelFile(defaultTokenizerFor(modelPath));
    if (why) warnings.push(`${why}; decoding with ${path}.`);
    return path;
  } catch (err) {
    throw new UserError(
      `cannot turn the device's tokens into text: ${why ?? 'no build to take the tokenizer from'}, and the tokenizer for ${hello.modelName} was not found ` +
        `(${(err as Error).message.split('\n')[0]}). Pass --build with the directory the firmware was built in, or -z with its tokenizer.`,
    );
  }
}
