import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { partPathFor } from '../../src/models/download.js';
import { modelSearchPath } from '../../src/models/locate.js';
import { chooseMirror, fileSource, knownModelPresence, pullModel, requireKnownModel } from '../../src/models/pull.js';
import type { PullOptions } from '../../src/models/pull.js';
import { KNOWN_MODELS, findKnownModel } from '../../src/models/registry.js';
import { UserError } from '../../src/util/errors.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { FileServer } from './file-server.js';
import { rejectedUserError as userError } from '../helpers/errors.js';
import { needs, requireNeeds } from '../helpers/needs.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('models/pull', () => {
  needs('stories260K.bin', 'tok512.bin');
  let checkpoint: Buffer;
  let tokenizer: Buffer;
  let server: FileServer;
  let temp: { dir: string; cleanup: () => void };
  let notes: string[];

  before(async () => {
    checkpoint = readFileSync(modelPath('stories260K.bin'));
    tokenizer = readFileSync(modelPath('tok512.bin'));
    server = await FileServer.start(dirname(modelPath('stories260K.bin')));
  });
  after(() => server?.close()); // not started when the suite is skipped
  beforeEach(() => {
    server.reset();
    temp = tempDir();
    notes = [];
  });
  afterEach(() => temp.cleanup());

  /** Options for a pull from the test server into the temporary directory, with no user environment. */
  const options = (overrides: PullOptions = {}): PullOptions => ({
    mirror: server.url,
    dir: temp.dir,
    quiet: true,
    log: (line) => notes.push(line),
    env: {},
    ...overrides,
  });

  it('the registry pins the sizes and hashes of the shared model files', function () {
    requireNeeds(this, 'tokenizer.bin');
    const model = findKnownModel('stories260K')!;
    expect(model.checkpoint).to.include({ bytes: checkpoint.length, sha256: sha256(checkpoint) });
    expect(model.tokenizer).to.include({ bytes: tokenizer.length, sha256: sha256(tokenizer) });
    const llamaTokenizer = readFileSync(modelPath('tokenizer.bin'));
    expect(findKnownModel('stories15M')!.tokenizer).to.include({ bytes: llamaTokenizer.length, sha256: sha256(llamaTokenizer) });
  });

  it('downloads stories260K and its tokenizer, byte for byte', async () => {
    const result = await pullModel('stories260K', options());
    expect(result.dir).to.equal(temp.dir);
    expect(result.files.map((f) => [f.role, f.file.name, f.outcome, f.source])).to.deep.equal([
      ['checkpoint', 'stories260K.bin', 'downloaded', `${server.url}/stories260K.bin`],
      ['tokenizer', 'tok512.bin', 'downloaded', `${server.url}/tok512.bin`],
    ]);
    expect(readFileSync(join(temp.dir, 'stories260K.bin')).equals(checkpoint)).to.equal(true);
    expect(readFileSync(join(temp.dir, 'tok512.bin')).equals(tokenizer)).to.equal(true);
    expect(result.files[0].sha256).to.equal(sha256(checkpoint));
    expect(result.files[1].sha256).to.equal(sha256(tokenizer));
    expect(existsSync(partPathFor(join(temp.dir, 'stories260K.bin')))).to.equal(false);
  });

  it('downloads into the model cache by default, which the model lookup searches', async () => {
    const env = { LLAMA2_EMBED_CACHE: join(temp.dir, 'cache') };
    // force: without it the copies the lookup finds in ../shared/models are kept (cli/pull tests that)
    const result = await pullModel('stories260K', options({ dir: undefined, env, force: true }));
    expect(result.dir).to.equal(join(temp.dir, 'cache'));
    expect(existsSync(join(temp.dir, 'cache', 'stories260K.bin'))).to.equal(true);
    expect(modelSearchPath(env).map((p) => p.dir)).to.include(result.dir);
  });

  it('skips files already downloaded whose hash matches', async () => {
    await pullModel('stories260K', options());
    server.reset();
    notes = [];
    const again = await pullModel('stories260K', options());
    expect(again.files.map((f) => f.outcome)).to.deep.equal(['already-present', 'already-present']);
    expect(server.requests).to.have.length(0);
    expect(notes).to.deep.equal([
      `stories260K.bin: already downloaded (${join(temp.dir, 'stories260K.bin')})`,
      `tok512.bin: already downloaded (${join(temp.dir, 'tok512.bin')})`,
    ]);
  });

  it('downloads again a present file whose hash does not match', async () => {
    await pullModel('stories260K', options());
    const damaged = Buffer.from(checkpoint);
    damaged[1000] ^= 0xff;
    writeFileSync(join(temp.dir, 'stories260K.bin'), damaged);
    server.reset();
    const again = await pullModel('stories260K', options());
    expect(again.files.map((f) => f.outcome)).to.deep.equal(['downloaded', 'already-present']);
    expect(readFileSync(join(temp.dir, 'stories260K.bin')).equals(checkpoint)).to.equal(true);
    expect(notes.join('\n')).to.match(/stories260K\.bin: the copy in .* has the wrong sha256: expected b0a507e7.*; downloading it again/);
  });

  it('--force downloads again, discarding a kept part', async () => {
    await pullModel('stories260K', options());
    writeFileSync(partPathFor(join(temp.dir, 'tok512.bin')), tokenizer.subarray(0, 100));
    server.reset();
    const again = await pullModel('stories260K', options({ force: true }));
    expect(again.files.map((f) => [f.outcome, f.resumedFrom])).to.deep.equal([
      ['downloaded', 0],
      ['downloaded', 0],
    ]);
    expect(server.requests.map((r) => [r.path, r.range])).to.deep.equal([
      ['/stories260K.bin', undefined],
      ['/tok512.bin', undefined],
    ]);
  });

  it('resumes an interrupted pull', async () => {
    server.nextTime('/stories260K.bin', { kind: 'cut', afterBytes: 300_000 });
    const err = await userError(pullModel('stories260K', options()));
    expect(err.message).to.match(/cut off/);
    const kept = readFileSync(partPathFor(join(temp.dir, 'stories260K.bin'))).length;
    const result = await pullModel('stories260K', options());
    expect(result.files[0].resumedFrom).to.equal(kept);
    expect(server.requests[1]).to.include({ range: `bytes=${kept}-`, status: 206, bytesSent: checkpoint.length - kept });
    expect(readFileSync(join(temp.dir, 'stories260K.bin')).equals(checkpoint)).to.equal(true);
  });

  it('rejects a corrupted download and leaves no file', async () => {
    server.nextTime('/tok512.bin', { kind: 'corrupt' });
    const err = await userError(pullModel('stories260K', options()));
    expect(err.message).to.include(`${server.url}/tok512.bin: the downloaded file has the wrong sha256`);
    expect(err.message).to.include(`expected ${sha256(tokenizer)}`);
    expect(err.message).to.include(findKnownModel('stories260K')!.tokenizer.url);
    expect(existsSync(join(temp.dir, 'tok512.bin'))).to.equal(false);
    expect(existsSync(partPathFor(join(temp.dir, 'tok512.bin')))).to.equal(false);
  });

  it('follows a redirect from the mirror', async () => {
    server.nextTime('/hop/stories260K.bin', { kind: 'redirect', location: '/stories260K.bin' });
    server.nextTime('/hop/tok512.bin', { kind: 'redirect', location: `${server.url}/tok512.bin`, status: 308 });
    const result = await pullModel('stories260K', options({ mirror: `${server.url}/hop/` }));
    expect(result.files.map((f) => f.outcome)).to.deep.equal(['downloaded', 'downloaded']);
    expect(server.requests.map((r) => [r.path, r.status])).to.deep.equal([
      ['/hop/stories260K.bin', 302],
      ['/stories260K.bin', 200],
      ['/hop/tok512.bin', 308],
      ['/tok512.bin', 200],
    ]);
  });

  it('a file the mirror does not have is a clear 404 that names the public URL', async () => {
    const err = await userError(pullModel('stories15M', options()));
    expect(err.message).to.include(`${server.url}/stories15M.bin: HTTP 404`);
    expect(err.message).to.include(
      `download ${findKnownModel('stories15M')!.checkpoint.url} and save it as ${join(temp.dir, 'stories15M.bin')}`,
    );
    expect(existsSync(join(temp.dir, 'stories15M.bin'))).to.equal(false);
  });

  it('takes the mirror from LLAMA2_EMBED_MIRROR', async () => {
    const result = await pullModel('stories260K', options({ mirror: undefined, env: { LLAMA2_EMBED_MIRROR: server.url } }));
    expect(result.files[0].source).to.equal(`${server.url}/stories260K.bin`);
  });

  it('uses public URLs without a mirror, and rejects a mirror that is not http(s)', () => {
    const file = findKnownModel('stories260K')!.checkpoint;
    expect(fileSource(file, undefined)).to.equal('https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin');
    expect(fileSource(file, chooseMirror('http://m.lan/llama2/', {}))).to.equal('http://m.lan/llama2/stories260K.bin');
    expect(chooseMirror(undefined, {})).to.equal(undefined);
    expect(() => chooseMirror('files.lan', {})).to.throw(UserError, /--mirror: "files.lan" is not an http/);
    expect(() => chooseMirror(undefined, { LLAMA2_EMBED_MIRROR: 'ftp://x' })).to.throw(UserError, /LLAMA2_EMBED_MIRROR/);
  });

  it('an unknown model name lists the known ones', async () => {
    const err = await userError(pullModel('stories1B', options()));
    expect(err.message).to.match(/"stories1B" is not a model llama2-embed can download/);
    for (const model of KNOWN_MODELS) expect(err.message).to.include(model.name);
    expect(server.requests).to.have.length(0);
  });

  it('accepts names in any case and with .bin', () => {
    expect(requireKnownModel('STORIES15m').name).to.equal('stories15M');
    expect(requireKnownModel('stories260K.bin').name).to.equal('stories260K');
  });

  it('lists which files of each known model are present, and where', async () => {
    await pullModel('stories260K', options());
    writeFileSync(join(temp.dir, 'tokenizer.bin'), 'not the tokenizer');
    const presence = knownModelPresence({ dir: temp.dir, env: {} });
    expect(presence.map((m) => m.model.name)).to.deep.equal(KNOWN_MODELS.map((m) => m.name));
    const [stories260K, stories15M] = presence;
    expect(stories260K.files.map((f) => f.path)).to.deep.equal([join(temp.dir, 'stories260K.bin'), join(temp.dir, 'tok512.bin')]);
    expect(stories15M.files[0].path).to.equal(undefined);
    expect(stories15M.files[1]).to.include({ path: join(temp.dir, 'tokenizer.bin'), problem: '17 bytes, expected 433869' });
  });
});
