/**
 * The RP2040's boot drive: in BOOTSEL mode the boot ROM shows itself as a small USB drive
 * (named RPI-RP2) holding INFO_UF2.TXT and INDEX.HTM. Copying a UF2 onto it writes the flash;
 * after the last block the ROM reboots into the new firmware and the drive goes away.
 *
 * Here: where operating systems mount such drives, how to recognise one, copying a file onto
 * it with the errors a user can act on, and waiting for it to come and go.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError, describeError } from '../util/errors.js';
import { formatBytes } from '../util/progress.js';

/** What INFO_UF2.TXT says on an RP2040 in BOOTSEL mode. */
export const RP2040_BOARD_ID = 'RPI-RP2';
export const INFO_FILE = 'INFO_UF2.TXT';

/** Where to look: each `parents` entry's subdirectories, and each `drives` entry itself. */
export interface DriveSearch {
  parents: string[];
  drives: string[];
}

export interface BootDrive {
  /** The directory the drive is mounted on. */
  path: string;
  /** INFO_UF2.TXT's Board-ID (RPI-RP2 for an RP2040). */
  boardId: string;
  /** INFO_UF2.TXT's Model line, when there is one. */
  model?: string;
}

function currentUser(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME;
  }
}

/**
 * The usual mount points of removable drives: udisks on Linux (/media/$USER, /run/media/$USER,
 * and $SUDO_USER's under sudo), older automounters (/media), hand mounts and WSL (/mnt/*, /mnt
 * itself); /Volumes on macOS; drive letters D: to Z: on Windows.
 */
export function defaultDriveSearch(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): DriveSearch {
  if (platform === 'win32') {
    const drives: string[] = [];
    for (let c = 'D'.charCodeAt(0); c <= 'Z'.charCodeAt(0); c++) drives.push(`${String.fromCharCode(c)}:\\`);
    return { parents: [], drives };
  }
  if (platform === 'darwin') return { parents: ['/Volumes'], drives: [] };
  // under sudo the desktop still mounts the drive for the user who ran sudo
  const users = [...new Set([currentUser(env), env.SUDO_USER].filter((u): u is string => Boolean(u)))];
  const parents = users.flatMap((user) => [`/media/${user}`, `/run/media/${user}`]);
  parents.push('/media', '/mnt');
  return { parents, drives: ['/mnt'] };
}

/** The search as a user reads it: `/media/ann/*, …, /mnt`. */
export function describeDriveSearch(search: DriveSearch): string {
  return [...search.parents.map((p) => join(p, '*')), ...search.drives].join(', ');
}

/** Reads a directory's INFO_UF2.TXT; undefined unless it is a UF2 boot drive. */
export function readBootDrive(dir: string): BootDrive | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  // FAT is case-insensitive; some mounts show the name in lower case
  const name = names.find((n) => n.toUpperCase() === INFO_FILE);
  if (!name) return undefined;
  let text: string;
  try {
    text = readFileSync(join(dir, name), 'latin1');
  } catch {
    return undefined;
  }
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z][A-Za-z -]*?)\s*:\s*(.*?)\s*$/.exec(line);
    if (m) fields.set(m[1].toLowerCase(), m[2]);
  }
  const boardId = fields.get('board-id');
  if (boardId === undefined) return undefined;
  return { path: dir, boardId, model: fields.get('model') };
}

/** Every UF2 boot drive mounted where `search` looks, whatever its board. */
export function findBootDrives(search: DriveSearch): BootDrive[] {
  const candidates: string[] = [];
  for (const parent of search.parents) {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const name of names) candidates.push(join(parent, name));
  }
  candidates.push(...search.drives);
  const seen = new Set<string>();
  const drives: BootDrive[] = [];
  for (const candidate of candidates) {
    const key = resolve(candidate);
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      if (!statSync(candidate).isDirectory()) continue;
    } catch {
      continue;
    }
    const drive = readBootDrive(candidate);
    if (drive) drives.push(drive);
  }
  return drives;
}

/** Whether a boot drive is an RP2040's (Board-ID RPI-RP2) rather than another UF2 bootloader's. */
export function isRp2040Drive(drive: BootDrive): boolean {
  return drive.boardId === RP2040_BOARD_ID;
}

/**
 * Linux: RP2040 boot drives the kernel sees (by their label) that may not be mounted, for the
 * advice when no mounted drive was found (a machine without a desktop mounts nothing by itself).
 */
export function labelledBootDevices(labelDir = '/dev/disk/by-label'): string[] {
  try {
    return readdirSync(labelDir)
      .filter((n) => n === RP2040_BOARD_ID)
      .map((n) => join(labelDir, n));
  } catch {
    return [];
  }
}

/** The part of a file handle the copy uses (node:fs/promises FileHandle has it). */
export type WritableFile = Pick<FileHandle, 'write' | 'sync' | 'close'>;

/** How the copy opens the file on the drive; tests put failures in here. */
export interface DriveFileSystem {
  openForWrite(path: string): Promise<WritableFile>;
}

export const nodeDriveFileSystem: DriveFileSystem = {
  openForWrite: (path) => open(path, 'w'),
};

export interface ProgressLike {
  update(done: number): void;
  done(message?: string): void;
}

export interface CopyOptions {
  fs?: DriveFileSystem;
  progress?: ProgressLike;
  /** Bytes written between flushes (default 64 KiB): the progress follows what reached the drive. */
  chunkBytes?: number;
  /** Told about an error in the last flush, which the board's reboot can cause (see copyToDrive). */
  warn?: (line: string) => void;
}

const GONE_CODES = new Set(['ENOENT', 'ENODEV', 'ENXIO', 'EIO', 'ESTALE', 'EBADF', 'ENOTCONN', 'ENOTDIR']);
const FULL_CODES = new Set(['ENOSPC', 'EFBIG', 'EDQUOT']);
const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM']);

function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function readOnlyMessage(drive: BootDrive, target: string, err: unknown): string {
  const code = errorCode(err);
  const why =
    code === 'EROFS'
      ? 'the drive is mounted read-only'
      : `you may not write to it (${code}: on Linux the desktop mounts it for the user logged in at the screen; someone else needs sudo, or to unmount it and mount it for themselves)`;
  return (
    `cannot write ${target}: ${why}. The Pico's boot drive itself is always writable; a read-only mount usually follows ` +
    'file system errors (Linux remounts a damaged FAT read-only). Unplug the Pico, plug it in again holding BOOTSEL, and flash again.'
  );
}

/**
 * Copies `data` to `name` on the drive, flushing every chunk so that the progress shows what
 * the Pico has received. Errors become messages: read-only drive, drive full, drive gone in
 * the middle. An error while flushing the very last bytes is only a warning: the boot ROM
 * reboots as soon as it holds the last block, and some systems then fail the final flush.
 */
export async function copyToDrive(data: Uint8Array, drive: BootDrive, name: string, options: CopyOptions = {}): Promise<string> {
  const fs = options.fs ?? nodeDriveFileSystem;
  const chunk = options.chunkBytes ?? 64 * 1024;
  const target = join(drive.path, name);
  let file: WritableFile;
  try {
    file = await fs.openForWrite(target);
  } catch (err) {
    const code = errorCode(err);
    if (code && READ_ONLY_CODES.has(code)) throw new UserError(readOnlyMessage(drive, target, err));
    if (code && FULL_CODES.has(code)) throw new UserError(fullMessage(target, data.length, 0, err));
    if (code && GONE_CODES.has(code))
      throw new UserError(
        `the boot drive at ${drive.path} went away before the copy started (${code}). Put the Pico in BOOTSEL mode again (hold BOOTSEL while plugging it in) and flash again.`,
      );
    throw new UserError(`cannot create ${target}: ${describeError(err)}`);
  }
  let written = 0;
  let closed = false;
  try {
    while (written < data.length) {
      const end = Math.min(written + chunk, data.length);
      let at = written;
      while (at < end) {
        const { bytesWritten } = await file.write(data, at, end - at);
        if (bytesWritten <= 0) throw Object.assign(new Error('the drive accepted no bytes'), { code: 'ENOSPC' });
        at += bytesWritten;
      }
      const last = end === data.length;
      try {
        await file.sync();
      } catch (err) {
        if (!last) throw err;
        written = end;
        options.warn?.(
          `the last flush to ${drive.path} failed (${errorCode(err) ?? describeError(err)}); the Pico reboots as soon as it has the last block, ` +
            'which can cut the flush short. Checking that the drive goes away…',
        );
        break;
      }
      written = end;
      options.progress?.update(written);
    }
    closed = true;
    await file.close().catch(() => undefined);
  } catch (err) {
    if (!closed) await file.close().catch(() => undefined);
    const code = errorCode(err);
    if (code && FULL_CODES.has(code)) throw new UserError(fullMessage(target, data.length, written, err));
    if (code && READ_ONLY_CODES.has(code)) throw new UserError(readOnlyMessage(drive, target, err));
    if (code && GONE_CODES.has(code)) {
      throw new UserError(
        `the boot drive at ${drive.path} went away in the middle of the copy (${code}, after ${formatBytes(written)} of ${formatBytes(data.length)}): ` +
          'the Pico did not get the whole firmware. Was it unplugged, or the drive ejected? Put it in BOOTSEL mode again (hold BOOTSEL while ' +
          'plugging it in) and flash again; if it keeps happening, try another USB cable or port.',
      );
    }
    throw new UserError(`copying to ${target} failed after ${formatBytes(written)}: ${describeError(err)}`);
  }
  options.progress?.done(`${formatBytes(data.length)} copied to ${drive.path}`);
  return target;
}

function fullMessage(target: string, total: number, written: number, err: unknown): string {
  return (
    `no room on the drive for ${target} (${errorCode(err)}: ${formatBytes(total)} to write, ${formatBytes(written)} written). ` +
    "An RP2040 boot drive reports 128 MB free whatever is on it, so this drive is probably not a Pico's, or its mount is broken: " +
    'unplug the Pico, plug it in again holding BOOTSEL, and flash again.'
  );
}

/** Whether the drive is still there (its directory still holds INFO_UF2.TXT). */
export function driveIsPresent(drive: BootDrive): boolean {
  return existsSync(drive.path) && readBootDrive(drive.path) !== undefined;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** Polls until `test` holds or `timeoutMs` passes; returns whether it held. */
export async function pollUntil(test: () => boolean, timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (test()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.max(1, Math.min(pollMs, deadline - Date.now())));
  }
}

/** Waits for the drive to go away (the boot ROM reboots after the last block); false on timeout. */
export function waitForDriveGone(drive: BootDrive, timeoutMs: number, pollMs = 200): Promise<boolean> {
  return pollUntil(() => !driveIsPresent(drive), timeoutMs, pollMs);
}

/** Waits for an RP2040 boot drive to be mounted; the drives found, none on timeout. */
export async function waitForRp2040Drive(search: DriveSearch, timeoutMs: number, pollMs = 250): Promise<BootDrive[]> {
  let found: BootDrive[] = [];
  await pollUntil(
    () => {
      found = findBootDrives(search).filter(isRp2040Drive);
      return found.length > 0;
    },
    timeoutMs,
    pollMs,
  );
  return found;
}
