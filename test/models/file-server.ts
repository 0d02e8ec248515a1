/**
 * A local HTTP file server for the download tests (127.0.0.1, a free port): serves the files of one
 * directory by name, honours `Range: bytes=N-` (206, or 416 past the end), and misbehaves on demand
 * with tricks queued per path: redirect, cut the connection after N bytes, corrupt the body,
 * stall after N bytes, ignore the range, answer with a status. Every request is recorded.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';

export type Trick =
  | { kind: 'redirect'; location: string; status?: number }
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'corrupt' }
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'ignore-range' }
  | { kind: 'status'; status: number };

export interface ServedRequest {
  path: string;
  range?: string;
  status: number;
  /** Body bytes written (for a cut or stalled answer, the bytes before it stopped). */
  bytesSent: number;
}

export class FileServer {
  readonly requests: ServedRequest[] = [];
  private readonly once = new Map<string, Trick[]>();
  private readonly always = new Map<string, Trick>();

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
  ) {}

  /** Starts serving `dir` on 127.0.0.1 at a free port. */
  static async start(dir: string): Promise<FileServer> {
    const server = createServer((req, res) => self.answer(req, res)); // called once listening, after self is set
    const self = new FileServer(server, dir);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The next request for `path` gets `trick` (tricks for one path are used in order). */
  nextTime(path: string, trick: Trick): this {
    this.once.set(path, [...(this.once.get(path) ?? []), trick]);
    return this;
  }

  /** Every request for `path` gets `trick`. */
  everyTime(path: string, trick: Trick): this {
    this.always.set(path, trick);
    return this;
  }

  /** Forgets tricks and recorded requests. */
  reset(): void {
    this.once.clear();
    this.always.clear();
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = req.headers.range;
    const record: ServedRequest = { path, status: 0, bytesSent: 0, ...(range !== undefined ? { range } : {}) };
    this.requests.push(record);
    const queued = this.once.get(path);
    const trick = queued?.shift() ?? this.always.get(path);

    if (trick?.kind === 'redirect') {
      record.status = trick.status ?? 302;
      res.writeHead(record.status, { location: trick.location }).end();
      return;
    }
    if (trick?.kind === 'status') {
      record.status = trick.status;
      res.writeHead(trick.status, { 'content-type': 'text/plain' }).end(`status ${trick.status}\n`);
      return;
    }
    const file = join(this.dir, basename(path));
    if (!existsSync(file) || !statSync(file).isFile()) {
      record.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }

    let body = readFileSync(file);
    const size = body.length;
    let start = 0;
    const match = trick?.kind === 'ignore-range' ? null : /^bytes=(\d+)-$/.exec(range ?? '');
    if (match) {
      start = Number(match[1]);
      if (start >= size) {
        record.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      record.status = 206;
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}` });
    } else {
      record.status = 200;
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    }
    body = body.subarray(start);

    if (trick?.kind === 'corrupt') {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    if (trick?.kind === 'cut' || trick?.kind === 'stall') {
      const part = body.subarray(0, trick.afterBytes);
      record.bytesSent = part.length;
      res.write(part, () => {
        // A cut closes the connection once the bytes are on their way; a stall just stops.
        if (trick.kind === 'cut') res.socket?.end();
      });
      return;
    }
    record.bytesSent = body.length;
    res.end(body);
  }
}
