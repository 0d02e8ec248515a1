import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_STALL_TIMEOUT_MS, INTERRUPTED_EXIT_CODE, downloadFile, partPathFor } from '../../src/models/download.js';
import type { DownloadRequest } from '../../src/models/download.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { FileServer } from './file-server.js';
import { rejectedUserError as userError } from '../helpers/errors.js';
import { needs } from '../helpers/needs.js';

const MODEL = 'stories260K.bin';
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('models/download', () => {
  needs('stories260K.bin');
  let original: Buffer;
  let server: FileServer;
  let temp: { dir: string; cleanup: () => void };
  let dest: string;

  before(async () => {
    original = readFileSync(modelPath(MODEL));
    server = await FileServer.start(dirname(modelPath(MODEL)));
  });
  after(() => server?.close()); // not started when the suite is skipped
  beforeEach(() => {
    server.reset();
    temp = tempDir();
    dest = join(temp.dir, MODEL);
  });
  afterEach(() => temp.cleanup());

  const request = (overrides: Partial<DownloadRequest> = {}): DownloadRequest => ({
    url: `${server.url}/${MODEL}`,
    dest,
    sha256: sha256(original),
    bytes: original.length,
    quiet: true,
    ...overrides,
  });

  it('downloads a file byte for byte and checks its sha256', async () => {
    const result = await downloadFile(request());
    expect(result).to.deep.equal({ path: dest, bytes: original.length, sha256: sha256(original), resumedFrom: 0 });
    expect(readFileSync(dest).equals(original)).to.equal(true);
    expect(existsSync(partPathFor(dest))).to.equal(false);
    expect(server.requests).to.deep.equal([{ path: `/${MODEL}`, status: 200, bytesSent: original.length }]);
  });

  it('creates the destination directory', async () => {
    dest = join(temp.dir, 'a', 'b', MODEL);
    await downloadFile(request());
    expect(readFileSync(dest).equals(original)).to.equal(true);
  });

  it('keeps the part of a cut-off download and resumes it with a Range request', async () => {
    server.nextTime(`/${MODEL}`, { kind: 'cut', afterBytes: 400_000 });
    const cut = await userError(downloadFile(request()));
    expect(cut.message)
      .to.match(/cut off/)
      .and.match(/run the same command again to resume/);
    expect(cut.message).to.include(`${server.url}/${MODEL}`);
    const kept = readFileSync(partPathFor(dest)).length;
    expect(kept).to.be.greaterThan(0).and.at.most(400_000);
    expect(existsSync(dest)).to.equal(false);

    const result = await downloadFile(request());
    expect(result.resumedFrom).to.equal(kept);
    expect(server.requests[1]).to.deep.equal({
      path: `/${MODEL}`,
      range: `bytes=${kept}-`,
      status: 206,
      bytesSent: original.length - kept,
    });
    expect(readFileSync(dest).equals(original)).to.equal(true);
    expect(existsSync(partPathFor(dest))).to.equal(false);
  });

  it('starts over when the server ignores the range (200)', async () => {
    writeFileSync(partPathFor(dest), original.subarray(0, 1000));
    server.nextTime(`/${MODEL}`, { kind: 'ignore-range' });
    const notes: string[] = [];
    const result = await downloadFile(request({ log: (line) => notes.push(line) }));
    expect(server.requests[0]).to.include({ range: 'bytes=1000-', status: 200, bytesSent: original.length });
    expect(result.resumedFrom).to.equal(0);
    expect(readFileSync(dest).equals(original)).to.equal(true);
    expect(notes.join('\n')).to.match(/does not resume downloads; starting over/);
  });

  it('finishes a part that is already complete without asking the server', async () => {
    writeFileSync(partPathFor(dest), original);
    await downloadFile(request());
    expect(server.requests).to.have.length(0);
    expect(readFileSync(dest).equals(original)).to.equal(true);
  });

  it('on 416 keeps a complete part whose hash matches', async () => {
    writeFileSync(partPathFor(dest), original);
    await downloadFile(request({ bytes: undefined }));
    expect(server.requests).to.deep.equal([{ path: `/${MODEL}`, range: `bytes=${original.length}-`, status: 416, bytesSent: 0 }]);
    expect(readFileSync(dest).equals(original)).to.equal(true);
  });

  it('on 416 starts over when the part is not the file', async () => {
    const wrong = Buffer.from(original);
    wrong[10] ^= 1;
    writeFileSync(partPathFor(dest), wrong);
    await downloadFile(request({ bytes: undefined }));
    expect(server.requests.map((r) => [r.range, r.status])).to.deep.equal([
      [`bytes=${original.length}-`, 416],
      [undefined, 200],
    ]);
    expect(readFileSync(dest).equals(original)).to.equal(true);
  });

  it('discards a part larger than the expected file', async () => {
    writeFileSync(partPathFor(dest), Buffer.concat([original, Buffer.from('extra')]));
    await downloadFile(request());
    expect(server.requests[0].range).to.equal(undefined);
    expect(readFileSync(dest).equals(original)).to.equal(true);
  });

  it('rejects a corrupted download: no final file, no part, expected and found hashes in the message', async () => {
    server.nextTime(`/${MODEL}`, { kind: 'corrupt' });
    const err = await userError(downloadFile(request({ manualUrl: 'https://example.org/stories260K.bin' })));
    expect(err.message).to.include(`${server.url}/${MODEL}`);
    expect(err.message).to.include(`expected ${sha256(original)}`);
    expect(err.message).to.match(/found {4}[0-9a-f]{64}/);
    expect(err.message).to.include('https://example.org/stories260K.bin');
    expect(err.message).to.match(/Run the same command again/);
    expect(existsSync(dest)).to.equal(false);
    expect(existsSync(partPathFor(dest))).to.equal(false);
  });

  it('rejects a file of the wrong size', async () => {
    const err = await userError(downloadFile(request({ bytes: original.length + 1, sha256: undefined })));
    expect(err.message).to.include(`has ${original.length} bytes, expected ${original.length + 1}`);
    expect(existsSync(dest)).to.equal(false);
  });

  it('keeps the file when no hash or size is known, and reports its sha256', async () => {
    const result = await downloadFile(request({ bytes: undefined, sha256: undefined }));
    expect(result.sha256).to.equal(sha256(original));
  });

  it('follows redirects, relative and absolute, keeping the range', async () => {
    writeFileSync(partPathFor(dest), original.subarray(0, 5000));
    server
      .nextTime('/start/model', { kind: 'redirect', location: `${server.url}/cdn/hop`, status: 301 })
      .nextTime('/cdn/hop', { kind: 'redirect', location: `../files/${MODEL}`, status: 307 });
    const result = await downloadFile(request({ url: `${server.url}/start/model` }));
    expect(server.requests.map((r) => [r.path, r.status, r.range])).to.deep.equal([
      ['/start/model', 301, 'bytes=5000-'],
      ['/cdn/hop', 307, 'bytes=5000-'],
      [`/files/${MODEL}`, 206, 'bytes=5000-'],
    ]);
    expect(result.resumedFrom).to.equal(5000);
    expect(readFileSync(dest).equals(original)).to.equal(true);
  });

  it('gives up after too many redirects', async () => {
    server.everyTime('/loop', { kind: 'redirect', location: '/loop' });
    const err = await userError(downloadFile(request({ url: `${server.url}/loop`, maxRedirects: 3 })));
    expect(err.message).to.match(/more than 3 redirects/);
    expect(server.requests).to.have.length(4);
  });

  it('reports a 404 with the URL and how to fetch the file by hand', async () => {
    const err = await userError(downloadFile(request({ url: `${server.url}/missing.bin`, manualUrl: 'https://example.org/m.bin' })));
    expect(err.message).to.include(`${server.url}/missing.bin: HTTP 404 Not Found (the server has no such file)`);
    expect(err.message).to.include(`download https://example.org/m.bin and save it as ${dest}`);
    expect(existsSync(dest)).to.equal(false);
  });

  it('reports other HTTP statuses, naming where a redirect led', async () => {
    server.nextTime('/a', { kind: 'redirect', location: '/b' }).nextTime('/b', { kind: 'status', status: 503 });
    const err = await userError(downloadFile(request({ url: `${server.url}/a` })));
    expect(err.message).to.include(`${server.url}/a (redirected to ${server.url}/b): HTTP 503`);
    expect(err.message).to.include('try again later');
  });

  it('reports a refused connection and that the machine may be offline', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await userError(downloadFile(request({ url: `http://127.0.0.1:${port}/${MODEL}` })));
    expect(err.message).to.include(`http://127.0.0.1:${port}/${MODEL}: cannot download it: connection refused (ECONNREFUSED)`);
    expect(err.message).to.match(/offline/);
    expect(err.message).to.include(`save it as ${dest}`);
  });

  it('rejects addresses that are not http(s)', async () => {
    const err = await userError(downloadFile(request({ url: 'ftp://example.org/x.bin' })));
    expect(err.message).to.match(/only http:\/\/ and https:\/\//);
  });

  it('times out when the server stalls, keeps the part, and resumes on the next try', async function () {
    expect(DEFAULT_STALL_TIMEOUT_MS).to.equal(30_000);
    server.nextTime(`/${MODEL}`, { kind: 'stall', afterBytes: 100_000 });
    const started = Date.now();
    const err = await userError(downloadFile(request({ stallTimeoutMs: 300 })));
    expect(Date.now() - started).to.be.lessThan(5000);
    expect(err.message)
      .to.match(/no data for 300 ms, giving up/)
      .and.match(/offline/);
    expect(err.message).to.include(partPathFor(dest));
    const kept = readFileSync(partPathFor(dest)).length;
    expect(kept).to.be.greaterThan(0);

    const result = await downloadFile(request({ stallTimeoutMs: 300 }));
    expect(result.resumedFrom).to.equal(kept);
    expect(server.requests[1].range).to.equal(`bytes=${kept}-`);
    expect(readFileSync(dest).equals(original)).to.equal(true);
  });

  it('stops when aborted (Ctrl+C), keeping the part', async () => {
    server.nextTime(`/${MODEL}`, { kind: 'stall', afterBytes: 50_000 });
    const interrupt = new AbortController();
    const download = downloadFile(request({ signal: interrupt.signal }));
    setTimeout(() => interrupt.abort(), 200);
    const err = await userError(download);
    expect(err.exitCode).to.equal(INTERRUPTED_EXIT_CODE);
    expect(err.message).to.match(/download interrupted/);
    expect(existsSync(partPathFor(dest))).to.equal(true);
    expect(existsSync(dest)).to.equal(false);
  });

  it('reports a directory it cannot create as a disk error', async () => {
    writeFileSync(join(temp.dir, 'a-file'), 'x');
    dest = join(temp.dir, 'a-file', 'sub', MODEL);
    const err = await userError(downloadFile(request()));
    expect(err.message)
      .to.match(/cannot write the download/)
      .and.match(/--dir/);
  });

  it('draws a progress bar with bytes and percent', async () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (text: string) => lines.push(text) } as unknown as NodeJS.WriteStream;
    await downloadFile(request({ quiet: false, progressStream: stream }));
    const text = lines.join('');
    expect(text).to.include(`${MODEL}: 0% 0 B / 1.0 MiB`);
    expect(text).to.include(`${MODEL}: 50% `);
    expect(text).to.include(`${MODEL}: 100% 1.0 MiB / 1.0 MiB`);
    expect(text).to.match(/stories260K\.bin: downloaded 1\.0 MiB \(\d+\.\d s\)/);
  });
});
