/**
 * Where model files are found. One rule for the CLI and the tests alike:
 *   1. an explicit path (`--model`, `--tokenizer`), used as is;
 *   2. a bare file name is looked up in `$LLAMA2_EMBED_MODELS` (a directory, or several separated by ':'),
 *   3. then in `../shared/models` beside the project checkout (and beside the working directory),
 *   4. then in the user's model cache, where `llama2-embed pull` puts downloads.
 * When none has it, the error lists every place it looked and how to get the file.
 */
import { existsSync, lstatSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { checkInputFile } from '../util/paths.js';
import { projectRoot } from '../util/project-root.js';
import { findKnownFile } from './registry.js';

/** The user's model cache: `$LLAMA2_EMBED_CACHE`, else the platform's cache directory. */
export function modelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LLAMA2_EMBED_CACHE) return resolve(env.LLAMA2_EMBED_CACHE);
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'llama2-embed', 'models');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'llama2-embed', 'models');
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'llama2-embed', 'models');
}

export interface SearchPlace {
  dir: string;
  why: string;
}

/** The directories searched for a bare model file name, in order, without duplicates. */
export function modelSearchPath(env: NodeJS.ProcessEnv = process.env): SearchPlace[] {
  const places: SearchPlace[] = [];
  for (const dir of (env.LLAMA2_EMBED_MODELS ?? '').split(':').filter(Boolean)) {
    places.push({ dir: resolve(dir), why: '$LLAMA2_EMBED_MODELS' });
  }
  places.push({ dir: resolve(projectRoot(), '..', 'shared', 'models'), why: 'shared models beside the project' });
  places.push({ dir: resolve(process.cwd(), '..', 'shared', 'models'), why: 'shared models beside the working directory' });
  places.push({ dir: modelCacheDir(env), why: 'model cache (llama2-embed pull)' });
  const seen = new Set<string>();
  return places.filter((p) => (seen.has(p.dir) ? false : (seen.add(p.dir), true)));
}

/**
 * Whether `name` is a bare file name that the lookup may search for when it comes from outside
 * (a device's HELLO): printable ASCII, no "/", "\\" or "..", no NUL, not starting with ".".
 */
export function isPlainFileName(name: string): boolean {
  return /^[\x20-\x7e]+$/.test(name) && !/[/\\]/.test(name) && !name.includes('..') && !name.startsWith('.');
}

/**
 * Resolves a model or tokenizer file. A value with a directory part (or one that exists relative
 * to the working directory) is a path; a bare name is searched for along `modelSearchPath()`.
 */
export function locateModelFile(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const looksLikePath = isAbsolute(nameOrPath) || nameOrPath.includes('/') || nameOrPath.includes('\\');
  if (looksLikePath || existsSync(nameOrPath)) {
    const path = resolve(nameOrPath);
    if (!existsSync(path) && !isLink(path)) {
      throw new UserError(`${nameOrPath}: no such file.${howToGet(nameOrPath.split(/[\\/]/).pop() ?? nameOrPath)}`);
    }
    checkInputFile(path, nameOrPath, 'a llama2.c .bin file');
    return path;
  }
  const places = modelSearchPath(env);
  for (const place of places) {
    const candidate = join(place.dir, nameOrPath);
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  const where = places.map((p) => `  - ${p.dir} (${p.why})`).join('\n');
  throw new UserError(`${nameOrPath}: not found. Looked in:\n${where}${howToGet(nameOrPath)}`);
}

/** A symbolic link, whether or not it leads anywhere (existsSync follows it). */
function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function howToGet(fileName: string): string {
  const known = findKnownFile(fileName);
  if (known) {
    return (
      `\nTo get it: llama2-embed pull ${known.model.name}` +
      `\n  (or download ${known.file.url} and pass its path, or set LLAMA2_EMBED_MODELS to its directory)`
    );
  }
  return '\nPass the path to the file, or set LLAMA2_EMBED_MODELS to the directory that holds it.';
}
