/**
 * Getting a known model (its checkpoint and its tokenizer) into the model cache, so that the model
 * lookup (locate.ts) finds it by name. Each file comes from its public URL, or from
 * `${mirror}/${file name}` when a mirror is set (`--mirror`, `$LLAMA2_EMBED_MIRROR`); files already
 * there and matching their known size and sha256 are kept. The download itself is download.ts.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { downloadFile, fileSize, partPathFor, verifyFile } from './download.js';
import { modelCacheDir, modelSearchPath } from './locate.js';
import type { SearchPlace } from './locate.js';
import { KNOWN_MODELS, findKnownModel } from './registry.js';
import type { KnownFile, KnownModel } from './registry.js';

export type FileRole = 'checkpoint' | 'tokenizer';

export interface PullOptions {
  /** Where to put the files (default: the model cache, `modelCacheDir()`). */
  dir?: string;
  /** Base URL to fetch files from instead of their public URLs (default: `$LLAMA2_EMBED_MIRROR`). */
  mirror?: string;
  /** Download again even when the files are already there (a kept `.part` is discarded too). */
  force?: boolean;
  /** Abort a download when no byte arrives for this long (default 30 s). */
  stallTimeoutMs?: number;
  maxRedirects?: number;
  /** Aborting it (Ctrl+C) stops the download and keeps the `.part` for a later resume. */
  signal?: AbortSignal;
  /** No progress bars. */
  quiet?: boolean;
  progressStream?: NodeJS.WriteStream;
  /** Where one-line notes go ("already downloaded", "resuming at …"); default stderr. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface PulledFile {
  role: FileRole;
  file: KnownFile;
  path: string;
  outcome: 'downloaded' | 'already-present';
  /** Where the bytes came from (a mirror's URL or the public one); undefined when already present. */
  source?: string;
  bytes: number;
  sha256: string;
  /** Bytes kept from an earlier interrupted download (0 when none). */
  resumedFrom: number;
}

export interface PullResult {
  model: KnownModel;
  dir: string;
  files: PulledFile[];
}

/** The model's files, checkpoint first. */
export function modelFiles(model: KnownModel): { role: FileRole; file: KnownFile }[] {
  return [
    { role: 'checkpoint', file: model.checkpoint },
    { role: 'tokenizer', file: model.tokenizer },
  ];
}

/** The known model called `name` (`stories260K`, `stories260K.bin`, any case), or a UserError listing them. */
export function requireKnownModel(name: string): KnownModel {
  const model = findKnownModel(name);
  if (model) return model;
  const known = KNOWN_MODELS.map((m) => `  ${m.name.padEnd(12)} ${m.description}`).join('\n');
  throw new UserError(
    `"${name}" is not a model llama2-embed can download. Known models:\n${known}\n` +
      'For another checkpoint, download it yourself and pass its path (or set LLAMA2_EMBED_MODELS to its directory).',
  );
}

/** The mirror to use: the option, else `$LLAMA2_EMBED_MIRROR`; checked to be an http(s) URL. */
export function chooseMirror(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const mirror = (option ?? env.LLAMA2_EMBED_MIRROR ?? '').trim();
  if (!mirror) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(mirror);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    const from = option !== undefined ? '--mirror' : 'LLAMA2_EMBED_MIRROR';
    throw new UserError(`${from}: "${mirror}" is not an http:// or https:// URL (expected e.g. http://files.local/llama2).`, 2);
  }
  return mirror.replace(/\/+$/, '');
}

/** Where a file is fetched from: `${mirror}/${file.name}` with a mirror, else its public URL. */
export function fileSource(file: KnownFile, mirror: string | undefined): string {
  return mirror ? `${mirror}/${encodeURIComponent(file.name)}` : file.url;
}

/** Downloads the model `name` (checkpoint and tokenizer) into `options.dir` or the model cache. */
export async function pullModel(name: string, options: PullOptions = {}): Promise<PullResult> {
  const model = requireKnownModel(name);
  const env = options.env ?? process.env;
  const mirror = chooseMirror(options.mirror, env);
  const dir = resolve(options.dir ?? modelCacheDir(env));
  const files: PulledFile[] = [];
  for (const { role, file } of modelFiles(model)) {
    files.push(await pullFile(role, file, dir, mirror, options));
  }
  return { model, dir, files };
}

async function pullFile(
  role: FileRole,
  file: KnownFile,
  dir: string,
  mirror: string | undefined,
  options: PullOptions,
): Promise<PulledFile> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const path = join(dir, file.name);
  const elsewhere =
    options.force || options.dir !== undefined ? undefined : await verifiedCopyOnSearchPath(file, dir, options.env ?? process.env);
  if (elsewhere) {
    log(`${file.name}: already here (${elsewhere.path}, where the model lookup finds it); not downloading it again (--force would)`);
    return {
      role,
      file,
      path: elsewhere.path,
      outcome: 'already-present',
      bytes: fileSize(elsewhere.path) ?? 0,
      sha256: elsewhere.sha256,
      resumedFrom: 0,
    };
  }
  if (options.force) {
    rmSync(partPathFor(path), { force: true });
  } else if (fileSize(path) !== undefined) {
    const check = await verifyFile(path, file);
    if (check.ok) {
      log(`${file.name}: already downloaded (${path})`);
      return { role, file, path, outcome: 'already-present', bytes: fileSize(path) ?? 0, sha256: check.sha256, resumedFrom: 0 };
    }
    log(`${file.name}: the copy in ${dir} ${check.problem.replace(/\n\s*/g, ' ')}; downloading it again.`);
  }

  const source = fileSource(file, mirror);
  log(`${file.name}: downloading ${source}`);
  const result = await downloadFile({
    url: source,
    dest: path,
    sha256: file.sha256,
    bytes: file.bytes,
    manualUrl: file.url,
    stallTimeoutMs: options.stallTimeoutMs,
    maxRedirects: options.maxRedirects,
    signal: options.signal,
    quiet: options.quiet,
    progressStream: options.progressStream,
    log,
  });
  return { role, file, path, outcome: 'downloaded', source, bytes: result.bytes, sha256: result.sha256, resumedFrom: result.resumedFrom };
}

/**
 * A copy of `file` that the model lookup already finds somewhere other than `downloadDir` (for
 * example `$LLAMA2_EMBED_MODELS` or `../shared/models`) and whose sha256 matches: `pull` without
 * `--dir` keeps using it instead of downloading a second copy into the cache.
 */
async function verifiedCopyOnSearchPath(
  file: KnownFile,
  downloadDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ path: string; sha256: string } | undefined> {
  for (const place of modelSearchPath(env)) {
    if (resolve(place.dir) === downloadDir) continue;
    const path = join(place.dir, file.name);
    if (fileSize(path) === undefined) continue;
    const check = await verifyFile(path, file);
    if (check.ok) return { path, sha256: check.sha256 };
  }
  return undefined;
}

export interface FilePresence {
  role: FileRole;
  file: KnownFile;
  /** Where the model lookup would find it, if anywhere. */
  path?: string;
  /** Why the found copy may not be the expected file (its size differs). */
  problem?: string;
}

export interface ModelPresence {
  model: KnownModel;
  files: FilePresence[];
}

/**
 * For every known model, whether each of its files is already present, and where: in `dir` when
 * given, else along the model search path. Sizes are compared, hashes are not (that would read
 * every file); `pull` checks the hash.
 */
export function knownModelPresence(options: { dir?: string; env?: NodeJS.ProcessEnv } = {}): ModelPresence[] {
  const env = options.env ?? process.env;
  const places: SearchPlace[] = options.dir ? [{ dir: resolve(options.dir), why: '--dir' }] : modelSearchPath(env);
  return KNOWN_MODELS.map((model) => ({
    model,
    files: modelFiles(model).map(({ role, file }) => presence(role, file, places)),
  }));
}

function presence(role: FileRole, file: KnownFile, places: SearchPlace[]): FilePresence {
  for (const place of places) {
    const path = join(place.dir, file.name);
    const size = fileSize(path);
    if (size === undefined) continue;
    if (file.bytes !== undefined && size !== file.bytes) {
      return { role, file, path, problem: `${size} bytes, expected ${file.bytes}` };
    }
    return { role, file, path };
  }
  return { role, file };
}
