/**
 * Downloading one file over HTTP(S), safely:
 *
 * - the bytes go to `<dest>.part` beside the destination; only a complete file whose size and
 *   sha256 (where known) match is renamed to `dest`, so a reader never sees half a model;
 * - an existing `.part` is resumed with `Range: bytes=N-` (206: append; 200: the server ignored
 *   the range, start over; 416: the part is already complete, or wrong and started over);
 * - redirects are followed (relative `Location` too), up to `maxRedirects` hops;
 * - no progress for `stallTimeoutMs` aborts the transfer; an abort (timeout, Ctrl+C, a dropped
 *   connection) keeps the `.part` for the next run to resume;
 * - every failure is a UserError that names the URL, what happened and what to do.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { basename, dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError, describeError } from '../util/errors.js';
import { Progress, formatBytes } from '../util/progress.js';

export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_REDIRECTS = 5;

/** Exit code for a download stopped with Ctrl+C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

export interface DownloadRequest {
  /** Where the bytes come from (the public URL or a mirror's). */
  url: string;
  /** The final path of the file. */
  dest: string;
  /** Expected sha256 (lowercase hex), when known. */
  sha256?: string;
  /** Expected size in bytes, when known. */
  bytes?: number;
  /** Where a person can fetch the file by hand, for error messages (default: `url`). */
  manualUrl?: string;
  /** Abort when no byte arrives for this long (default 30 s). */
  stallTimeoutMs?: number;
  maxRedirects?: number;
  /** Aborting it (Ctrl+C) stops the download and keeps the `.part`. */
  signal?: AbortSignal;
  /** Progress bar on stderr (or `progressStream`), unless `quiet`. */
  quiet?: boolean;
  progressStream?: NodeJS.WriteStream;
  /** One-line notes about what happens (resuming, starting over). */
  log?: (line: string) => void;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes of an earlier, interrupted download that were kept (0 for a fresh one). */
  resumedFrom: number;
}

/** The file a download is written to until it is complete and checked. */
export function partPathFor(dest: string): string {
  return `${dest}.part`;
}

/** The sha256 of a file, in lowercase hex. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The size of a file, or undefined when there is none. */
export function fileSize(path: string): number | undefined {
  try {
    const stat = statSync(path);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

/** Downloads `request.url` to `request.dest` (see the file comment for how). */
export async function downloadFile(request: DownloadRequest): Promise<DownloadResult> {
  const part = partPathFor(request.dest);
  const log = request.log ?? (() => {});
  onDisk(() => mkdirSync(dirname(request.dest), { recursive: true }), dirname(request.dest));

  let startedOver = false;
  const startOver = (why: string): void => {
    if (startedOver) throw new UserError(`${request.url}: ${why}, even after starting over. ${byHand(request)}`);
    startedOver = true;
    log(`${basename(request.dest)}: ${why}; starting over.`);
    onDisk(() => rmSync(part, { force: true }), part);
  };

  for (;;) {
    const kept = keptPartBytes(part, request.bytes, log);
    if (kept > 0 && kept === request.bytes) {
      // A complete part from an earlier run (interrupted before its check): no request needed.
      const check = await verifyFile(part, request);
      if (check.ok) return finish(part, request, check.sha256, kept);
      startOver(`the partial file ${part} is complete but ${check.problem}`);
      continue;
    }
    if (kept > 0)
      log(`${basename(request.dest)}: resuming at ${formatBytes(kept)}${request.bytes ? ` of ${formatBytes(request.bytes)}` : ''}.`);

    const outcome = await receive(request, part, kept);
    if (outcome.kind === 'restart') {
      startOver(outcome.why);
      continue;
    }
    if (outcome.kind === 'range-not-satisfiable') {
      // The server has nothing after byte `kept`: the part is complete, or it is not this file.
      const check = await verifyFile(part, { ...request, bytes: request.bytes ?? outcome.totalBytes });
      if (check.ok && (request.sha256 || request.bytes !== undefined || outcome.totalBytes !== undefined)) {
        return finish(part, request, check.sha256, kept);
      }
      startOver(`the server refused to resume at byte ${kept} (HTTP 416)`);
      continue;
    }

    const check = await verifyFile(part, request);
    if (!check.ok) {
      onDisk(() => rmSync(part, { force: true }), part);
      const resumed = outcome.resumedFrom > 0 ? `\n(This download resumed an earlier partial file at byte ${outcome.resumedFrom}.)` : '';
      throw new UserError(
        `${request.url}: the downloaded file ${check.problem}${resumed}\n` +
          `The partial file was deleted. Run the same command again to download it from scratch; if this keeps ` +
          `happening, the file at that address is not the one this version of llama2-embed expects ` +
          `(a proxy, a captive portal or a changed upstream file). ${byHand(request)}`,
      );
    }
    return finish(part, request, check.sha256, outcome.resumedFrom);
  }
}

/** Size of a kept `.part`, or 0; a part larger than the expected file is discarded. */
function keptPartBytes(part: string, expectedBytes: number | undefined, log: (line: string) => void): number {
  const size = fileSize(part) ?? 0;
  if (expectedBytes !== undefined && size > expectedBytes) {
    log(`${basename(part)}: larger than the expected ${expectedBytes} bytes; discarding it.`);
    onDisk(() => rmSync(part, { force: true }), part);
    return 0;
  }
  return size;
}

/** A file that is the expected one (with its sha256), or why it is not. */
export type FileCheck = { ok: true; sha256: string } | { ok: false; problem: string };

/** Compares a file with the size and sha256 expected (each where known); hashes it in any case. */
export async function verifyFile(path: string, expected: { bytes?: number; sha256?: string }): Promise<FileCheck> {
  const size = fileSize(path) ?? 0;
  if (expected.bytes !== undefined && size !== expected.bytes) {
    return { ok: false, problem: `has ${size} bytes, expected ${expected.bytes}` };
  }
  const sha256 = await onDiskAsync(() => sha256OfFile(path), path);
  if (expected.sha256 && sha256 !== expected.sha256.toLowerCase()) {
    return { ok: false, problem: `has the wrong sha256:\n  expected ${expected.sha256}\n  found    ${sha256}` };
  }
  return { ok: true, sha256 };
}

function finish(part: string, request: DownloadRequest, sha256: string, resumedFrom: number): DownloadResult {
  onDisk(() => renameSync(part, request.dest), request.dest);
  return { path: request.dest, bytes: fileSize(request.dest) ?? 0, sha256, resumedFrom };
}

type Received =
  { kind: 'body'; resumedFrom: number } | { kind: 'range-not-satisfiable'; totalBytes?: number } | { kind: 'restart'; why: string };

/** One request: the response body is appended to (206) or replaces (200) the part. */
async function receive(request: DownloadRequest, part: string, kept: number): Promise<Received> {
  const abort = new AbortController();
  const stallMs = request.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const watchdog = new StallWatchdog(stallMs, () => abort.abort());
  const onUserAbort = (): void => abort.abort();
  request.signal?.addEventListener('abort', onUserAbort, { once: true });
  if (request.signal?.aborted) abort.abort();

  let answered = false;
  let written = 0;
  let startedAt = kept;
  let progress: Progress | undefined;
  let file: WriteStream | undefined;
  try {
    const headers: Record<string, string> = kept > 0 ? { range: `bytes=${kept}-` } : {};
    const { response, url } = await openFollowingRedirects(request, headers, abort.signal, () => watchdog.poke());
    const status = response.statusCode ?? 0;
    answered = true;

    if (status === 416) {
      response.resume();
      return { kind: 'range-not-satisfiable', totalBytes: contentRangeTotal(response.headers['content-range']) };
    }
    if (status === 206 && kept > 0) {
      const start = contentRangeStart(response.headers['content-range']);
      if (start !== undefined && start !== kept) {
        response.destroy();
        return { kind: 'restart', why: `the server resumed at byte ${start} instead of ${kept}` };
      }
    } else if (status === 200) {
      if (kept > 0) request.log?.(`${basename(request.dest)}: the server does not resume downloads; starting over.`);
      startedAt = 0;
    } else {
      response.resume();
      throw httpStatusError(request, url, status, response.statusMessage);
    }

    const length = contentLength(response);
    const total = length !== undefined ? startedAt + length : request.bytes;
    progress = new Progress(basename(request.dest), total, { unit: 'bytes', quiet: request.quiet, stream: request.progressStream });
    progress.update(startedAt);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        watchdog.poke();
        progress?.update(startedAt + written);
        callback(null, chunk);
      },
    });
    file = createWriteStream(part, { flags: startedAt > 0 ? 'a' : 'w' });
    await pipeline(response, counter, file, { signal: abort.signal });
    await whenClosed(file);
    if (length !== undefined && written < length) throw Object.assign(new Error('connection closed early'), { code: 'ECONNRESET' });
    progress.done(`downloaded ${formatBytes(startedAt + written)}${startedAt > 0 ? ` (resumed at ${formatBytes(startedAt)})` : ''}`);
    return { kind: 'body', resumedFrom: startedAt };
  } catch (err) {
    // The pipeline gives up before the file's last write lands; wait, so that the part has its
    // final size before anyone measures or resumes it.
    if (file) await whenClosed(file);
    const have = fileSize(part) ?? 0;
    progress?.done(`stopped at ${formatBytes(have)}`);
    if (err instanceof UserError) throw err;
    const keptNote = have > 0 ? `The ${formatBytes(have)} received so far are kept in ${part}; run the same command again to resume.` : '';
    if (request.signal?.aborted) {
      throw new UserError(`${basename(request.dest)}: download interrupted. ${keptNote}`.trim(), INTERRUPTED_EXIT_CODE);
    }
    if (watchdog.stalled) {
      throw new UserError(
        `${request.url}: no data for ${seconds(stallMs)}, giving up. The server or the network is not answering; ` +
          [`this machine may be offline.`, keptNote, byHand(request)].filter(Boolean).join(' '),
      );
    }
    if (isDiskError(err)) throw diskError(err, dirname(part));
    if (answered) {
      throw new UserError(`${request.url}: the download was cut off: ${networkProblem(err)}. ${keptNote || byHand(request)}`);
    }
    const offline = `${request.url}: cannot download it: ${networkProblem(err)}. Is this machine offline?`;
    throw new UserError([offline, keptNote, byHand(request)].filter(Boolean).join(' '));
  } finally {
    watchdog.stop();
    request.signal?.removeEventListener('abort', onUserAbort);
  }
}

/** GETs `request.url`, following redirects; the response is the first one that is not a redirect. */
async function openFollowingRedirects(
  request: DownloadRequest,
  headers: Record<string, string>,
  signal: AbortSignal,
  onResponse: () => void,
): Promise<{ response: IncomingMessage; url: string }> {
  const maxRedirects = request.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let url = request.url;
  for (let hops = 0; ; hops++) {
    const response = await httpGet(request, url, headers, signal);
    // A response dropped unread (a redirect, an error status) may still report the connection
    // closing; that is not an error of ours. The body pipeline has its own error handling.
    response.on('error', () => {});
    onResponse();
    const location = response.headers.location;
    if (!isRedirect(response.statusCode) || !location) return { response, url };
    response.resume();
    if (hops >= maxRedirects) {
      throw new UserError(`${request.url}: more than ${maxRedirects} redirects (the last one to ${location}). ${byHand(request)}`);
    }
    url = new URL(location, url).href;
  }
}

function httpGet(request: DownloadRequest, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new UserError(`${url}: not a valid URL (expected http://… or https://…).`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new UserError(`${url}: only http:// and https:// addresses can be downloaded (got ${target.protocol}).`);
  }
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(
      target,
      {
        headers: { 'user-agent': 'llama2-embed', 'accept-encoding': 'identity', ...headers },
        signal,
      },
      resolve,
    );
    req.on('error', (err) => reject(wrapWithUrl(err, url, request)));
  });
}

/** Keeps the URL a redirect led to, so messages name the host that failed. */
function wrapWithUrl(err: Error, url: string, request: DownloadRequest): Error {
  if (url === request.url) return err;
  return Object.assign(err, { redirectedUrl: url });
}

function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function contentLength(response: IncomingMessage): number | undefined {
  const header = response.headers['content-length'];
  const value = header === undefined ? NaN : Number(header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** `bytes START-END/TOTAL` → START. */
function contentRangeStart(header: string | undefined): number | undefined {
  const match = /^bytes\s+(\d+)-\d+\/(?:\d+|\*)$/i.exec(header?.trim() ?? '');
  return match ? Number(match[1]) : undefined;
}

/** The TOTAL of `bytes S-E/TOTAL`, or of `bytes *\/TOTAL` (the form a 416 answer uses). */
function contentRangeTotal(header: string | undefined): number | undefined {
  const match = /\/(\d+)$/.exec(header?.trim() ?? '');
  return match ? Number(match[1]) : undefined;
}

function httpStatusError(request: DownloadRequest, url: string, status: number, statusMessage: string | undefined): UserError {
  const where = url === request.url ? request.url : `${request.url} (redirected to ${url})`;
  const meaning =
    status === 404
      ? 'the server has no such file'
      : status === 401 || status === 403
        ? 'the server refuses access'
        : status >= 500
          ? 'the server failed; try again later'
          : 'unexpected answer';
  return new UserError(`${where}: HTTP ${status} ${statusMessage ?? ''}`.trimEnd() + ` (${meaning}). ${byHand(request)}`);
}

/** What went wrong on the network, in words. */
function networkProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { redirectedUrl?: string; hostname?: string };
  const at = e.redirectedUrl ? ` (at ${e.redirectedUrl})` : '';
  switch (e.code) {
    case 'ECONNREFUSED':
      return `connection refused (ECONNREFUSED)${at}: nothing is listening there`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name could not be resolved (DNS ${e.code})${at}`;
    case 'ETIMEDOUT':
      return `the connection timed out (ETIMEDOUT)${at}`;
    case 'ECONNRESET':
      return `the connection was closed by the other side (ECONNRESET)${at}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to the host (${e.code})${at}`;
    default:
      return `${describeError(err)}${e.code ? ` (${e.code})` : ''}${at}`;
  }
}

function byHand(request: DownloadRequest): string {
  const url = request.manualUrl ?? request.url;
  return `To fetch it by hand: download ${url} and save it as ${request.dest}.`;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

const DISK_ERROR_CODES = new Set(['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOTDIR', 'EDQUOT', 'EEXIST', 'EIO', 'ENOENT']);

const DISK_SYSCALLS = new Set(['open', 'write', 'close', 'fsync', 'rename', 'mkdir', 'unlink', 'read']);

/** A file-system error (as opposed to a network one): a disk code from a file operation. */
function isDiskError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== 'string' || !DISK_ERROR_CODES.has(e.code)) return false;
  return typeof e.path === 'string' || DISK_SYSCALLS.has(e.syscall ?? '');
}

function diskError(err: unknown, dir: string): UserError {
  const e = err as NodeJS.ErrnoException;
  const what =
    e.code === 'ENOSPC' || e.code === 'EDQUOT'
      ? 'the disk is full'
      : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
        ? 'no permission to write there'
        : describeError(err);
  return new UserError(
    `${e.path ?? dir}: cannot write the download: ${what} (${e.code}). Free some space or choose another directory with --dir.`,
  );
}

/** Runs a file-system step; its errors become UserErrors that name the path. */
function onDisk<T>(step: () => T, path: string): T {
  try {
    return step();
  } catch (err) {
    throw diskError(Object.assign(err as object, { path: (err as NodeJS.ErrnoException).path ?? path }), dirname(path));
  }
}

async function onDiskAsync<T>(step: () => Promise<T>, path: string): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw diskError(Object.assign(err as object, { path: (err as NodeJS.ErrnoException).path ?? path }), dirname(path));
  }
}

/** Resolves once the file stream has closed its descriptor (after its last write), error or not. */
function whenClosed(stream: WriteStream): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

/** Calls `onStall` when `poke()` has not been called for `ms` milliseconds. */
class StallWatchdog {
  stalled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number, onStall: () => void) {
    this.timer = setTimeout(() => {
      this.stalled = true;
      onStall();
    }, ms);
  }

  poke(): void {
    if (!this.stalled) this.timer.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
