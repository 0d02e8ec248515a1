/**
 * What a directory holds, to tell afterwards which user data a command changed or destroyed: the
 * SHA-256 and size of every regular file under it (symbolic links are recorded, not followed;
 * FIFOs and devices by their kind, never opened).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** One entry of a directory tree. */
export interface Entry {
  kind: 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'other';
  /** Regular files only. */
  size?: number;
  sha256?: string;
}

/** Relative path → entry, for everything under a directory (the directory itself excluded). */
export type Snapshot = Map<string, Entry>;

function kindOf(stat: Stats): Entry['kind'] {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isCharacterDevice()) return 'char';
  return 'other';
}

/** The tree under `root` (empty when `root` does not exist). */
export function snapshot(root: string): Snapshot {
  const out: Snapshot = new Map();
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel ? join(rel, name) : name;
      const stat = lstatSync(join(root, r));
      const kind = kindOf(stat);
      if (kind === 'file') {
        out.set(r, {
          kind,
          size: stat.size,
          sha256: createHash('sha256')
            .update(readFileSync(join(root, r)))
            .digest('hex'),
        });
      } else {
        out.set(r, { kind });
        if (kind === 'dir') walk(r);
      }
    }
  };
  walk('');
  return out;
}

/**
 * Bytes of user data lost between two snapshots: the size of every regular file of `before` that
 * is missing or different in `after`, except those under `mayChange` (paths relative to the root,
 * a directory covering what is under it). Also the names, for the report.
 */
export function lostBytes(before: Snapshot, after: Snapshot, mayChange: readonly string[] = []): { bytes: number; files: string[] } {
  let bytes = 0;
  const files: string[] = [];
  const exempt = (p: string) => mayChange.some((m) => p === m || p.startsWith(`${m}/`));
  for (const [path, entry] of before) {
    if (entry.kind !== 'file' || exempt(path)) continue;
    const now = after.get(path);
    if (now?.kind === 'file' && now.sha256 === entry.sha256) continue;
    bytes += entry.size ?? 0;
    files.push(path);
  }
  return { bytes, files };
}
