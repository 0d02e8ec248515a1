import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** What marks our temporary files, so that a later run can tell them from anyone else's. */
const TEMP_TAG = 'llama2-embed';
const TEMP_NAME = /^\.(.*)\.llama2-embed-(\d+)\.tmp$/;
/** Room the tag and the PID take in a temporary name, out of a file name's 255 bytes. */
const TEMP_PREFIX_BYTES = 200;

/**
 * Temporary name beside `path`, so that the final rename stays on one file system. It carries the
 * process id, so that a run killed half-way leaves a file the next run can recognize and remove,
 * and it stays a legal file name however long the target's name is.
 */
export function tempPathFor(path: string): string {
  let prefix = basename(path);
  while (Buffer.byteLength(prefix) > TEMP_PREFIX_BYTES) prefix = prefix.slice(0, -1);
  return join(dirname(path), `.${prefix}.${TEMP_TAG}-${process.pid}.tmp`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, but not ours
  }
}

/**
 * Removes the temporary files and directories that killed runs of llama2-embed left in `dir`
 * (a `quantize` killed half-way through a 170 MB output, a build killed while linking): those
 * whose process is gone. Returns their names.
 */
export function removeStaleTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(TEMP_NAME.exec(name)?.[2]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function writeAll(fd: number, chunks: Iterable<Uint8Array>): number {
  let total = 0;
  for (const chunk of chunks) {
    let off = 0;
    while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    total += chunk.length;
  }
  return total;
}

/** A character device or a FIFO (`/dev/null`, `/dev/stdout`): written to in place, never replaced. */
function isStream(path: string): boolean {
  try {
    const stats = statSync(path);
    return stats.isCharacterDevice() || stats.isFIFO();
  } catch {
    return false;
  }
}

/**
 * Writes a file so that readers never see it half-written: the chunks go to a temporary file
 * beside the target, which is flushed and then renamed over it. On any error the temporary file
 * is removed and the target is left as it was. A target that is a device or a pipe is written
 * to directly (renaming over `/dev/null` would replace the device with a file). Returns the
 * number of bytes written.
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): number {
  if (isStream(path)) {
    const fd = openSync(path, 'w');
    try {
      return writeAll(fd, chunks);
    } finally {
      closeSync(fd);
    }
  }
  removeStaleTemporaries(dirname(path));
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'w');
  try {
    const total = writeAll(fd, chunks);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    return total;
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw err;
  }
}
