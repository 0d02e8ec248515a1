/**
 * build-info.json: what a finished build in a directory is (target, model, tokenizer, the request
 * it was made from, the plan's figures) and the SHA-256 of the program files it describes. `build`
 * writes it last; whoever runs or flashes a build checks the files against it first, so a program
 * that build-info.json does not describe is never run or flashed. Light on imports on purpose: the
 * flashing and monitoring commands read it without loading the C code generator.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';

export interface BuildInfo {
  tool: string;
  target: string;
  model: string;
  tokenizer: string;
  request: Record<string, unknown>;
  executable: string;
  plan: { weights: string; groupSize?: number; seqLen: number; weightsBytes: number; stateBytes: number };
  /** RP2040 firmware: where it talks (absent in builds from before USB: UART0). */
  stdio?: 'usb' | 'uart' | 'both';
  /**
   * The SHA-256 (hex) of each program file of the build (the host's `llama2`; a firmware's ELF,
   * flat image and UF2), by name in the build directory. Absent in builds made before it was
   * recorded, and in --on-device builds, whose program is on the Pi.
   */
  files?: Record<string, string>;
}

/** The name of the file, in a build directory. */
export const BUILD_INFO = 'build-info.json';

/** Records a finished build in `dir` (written last, so its presence means the build completed). */
export function writeBuildInfo(dir: string, info: BuildInfo): void {
  writeFileAtomic(join(dir, BUILD_INFO), [Buffer.from(`${JSON.stringify(info, null, 2)}\n`, 'utf8')]);
}

/** build-info.json of `dir`, or undefined when there is none or it is not JSON. */
export function readBuildInfo(dir: string): BuildInfo | undefined {
  const path = join(dir, BUILD_INFO);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BuildInfo;
  } catch {
    return undefined;
  }
}

/** The SHA-256 of a file, in hex. */
export function fileSha256(path: string): string {
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
  return hash.digest('hex');
}

/** The hashes of `names` in `dir`, for BuildInfo.files. */
export function hashFiles(dir: string, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, fileSha256(join(dir, name))]));
}

/**
 * What is wrong with the program files of the build in `dir` against its build-info.json: one
 * line per file that is missing or differs, none when they are all as recorded. A build-info.json
 * without `files` (an older build) yields one line saying so when `requireHashes` is set.
 */
export function buildFileProblems(dir: string, info: BuildInfo, requireHashes: boolean): string[] {
  if (info.files === undefined)
    return requireHashes ? [`its ${BUILD_INFO} records no hashes of the program (made by an older version)`] : [];
  const problems: string[] = [];
  for (const [name, sha256] of Object.entries(info.files)) {
    const path = join(dir, name);
    if (!existsSync(path)) problems.push(`${name} is missing`);
    else if (fileSha256(path) !== sha256) problems.push(`${name} is not the file its ${BUILD_INFO} describes (another SHA-256)`);
  }
  return problems;
}

/**
 * Refuses a build whose program files differ from what its build-info.json records (an
 * interrupted or mixed-up build), saying how to get a good one. Builds that record no hashes are
 * let through (older versions wrote none).
 */
export function checkBuildFiles(dir: string, target: string): void {
  const info = readBuildInfo(dir);
  if (!info) return;
  const problems = buildFileProblems(dir, info, false);
  if (problems.length === 0) return;
  throw new UserError(
    `the build in ${dir} is not the one its ${BUILD_INFO} describes: ${problems.join('; ')}. ` +
      `Build it again: llama2-embed build --target ${info.target ?? target} -o ${dir}.`,
  );
}
