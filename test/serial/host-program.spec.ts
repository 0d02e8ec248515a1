/**
 * The host program in --protocol mode, end to end: build stories260K for the host, run
 * `llama2 --protocol` as a child process and talk to it with DeviceSession, as the monitor will
 * talk to a board. Its HELLO must describe the build, its tokens must be llama2.c's goldens, and
 * bad frames, refused requests, cancellation and a closed stdin must all end well.
 */
import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { build, type BuildResult } from '../../src/toolchain/build.js';
import {
  encodeFrame,
  encodeMessage,
  ErrorCode,
  FrameDecoder,
  decodeFrame,
  type ErrorMessage,
  type Hello,
  type Message,
  type TokenMessage,
} from '../../src/serial/protocol.js';
import { DeviceError, DeviceSession, type SessionEvent } from '../../src/serial/session.js';
import { goldenIdFiles, goldenSettings } from '../helpers/goldens.js';
import { readGoldenIds, tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};

interface Program {
  child: ChildProcessWithoutNullStreams;
  session: DeviceSession;
  events: SessionEvent[];
  exited: Promise<number | null>;
  stderr: () => string;
}

function start(executable: string, args: string[] = []): Program {
  const child = spawn(executable, ['--protocol', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const events: SessionEvent[] = [];
  const session = new DeviceSession(
    { fromDevice: child.stdout, toDevice: child.stdin },
    { helloTimeoutMs: 10_000, responseTimeoutMs: 60_000, onEvent: (e) => events.push(e) },
  );
  return { child, session, events, exited, stderr: () => stderr };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms))]);
}

/** Golden-style lines from TOKEN frames: `P <id>` for prompt tokens, `G <id>` for sampled ones. */
const idLines = (tokens: TokenMessage[]) => tokens.map((t) => `${t.generated ? 'G' : 'P'} ${t.token}`);
const goldenLines = (file: string) => {
  const g = readGoldenIds(file);
  return [...g.prompt.map((id) => `P ${id}`), ...g.generated.map((id) => `G ${id}`)];
};

describe('host program: --protocol', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-protocol-host-');
  const running: Program[] = [];
  const stories = stories260K; // looked up when read, after needs()
  let tokenizer: Tokenizer;
  const builds: Record<string, BuildResult> = {};

  const launch = (name: string, args: string[] = []) => {
    const p = start(builds[name].info.executable, args);
    running.push(p);
    return p;
  };

  before(async () => {
    tokenizer = Tokenizer.read(stories.tokenizer, 512);
    builds.f32 = await build({ target: 'host', ...stories, quant: 'f32', out: join(tmp.dir, 'f32') }, quiet);
    builds.q8 = await build({ target: 'host', ...stories, quant: 'q8_0', groupSize: 4, out: join(tmp.dir, 'q8') }, quiet);
    builds.short = await build({ target: 'host', ...stories, quant: 'f32', seqLen: 32, out: join(tmp.dir, 'short') }, quiet);
    builds.mixed = await build({ target: 'host', ...stories, quant: 'mixed', out: join(tmp.dir, 'mixed') }, quiet);
  });
  after(() => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill();
    tmp.cleanup();
  });

  it('says HELLO unasked at start, after a lone delimiter, and describes the build', async () => {
    const { child } = launch('f32');
    const chunks: Buffer[] = [];
    await withTimeout(
      new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          chunks.push(d);
          if (d.includes(0) && Buffer.concat(chunks).indexOf(0, 1) > 0) resolve();
        });
      }),
      10_000,
      'the start-up HELLO',
    );
    const bytes = Buffer.concat(chunks);
    expect(bytes[0]).to.equal(0);
    const [event] = new FrameDecoder().push(bytes);
    expect(event.kind).to.equal('frame');
    const hello = (decodeFrame(event as never) as { message: Hello }).message;

    const plan = builds.f32.plan;
    const weightsHash = createHash('sha256')
      .update(readFileSync(join(builds.f32.outDir, 'weights.bin')))
      .digest('hex')
      .slice(0, 16);
    expect(hello).to.deep.equal({
      type: 'hello',
      version: 1,
      weights: 'f32',
      weightsCode: 0,
      maxPromptTokens: 244,
      maxFrame: 512,
      modelHash: weightsHash,
      dim: plan.config.dim,
      hiddenDim: plan.config.hiddenDim,
      nLayers: plan.config.nLayers,
      nHeads: plan.config.nHeads,
      nKvHeads: plan.config.nKvHeads,
      vocabSize: plan.config.vocabSize,
      seqLen: plan.seqLen,
      groupSize: 0,
      targetName: 'host',
      modelName: 'stories260K.bin',
    });
    expect(readFileSync(join(builds.f32.outDir, 'model.h'), 'utf8')).to.contain(
      `0x${weightsHash.slice(0, 2)}, 0x${weightsHash.slice(2, 4)}`,
    );
    child.stdin.end();
    expect(await withTimeout(running[running.length - 1].exited, 10_000, 'exit')).to.equal(0);
  });

  it('Q8_0 and mixed builds and a short seq_len say so in their HELLO, with other hashes', async () => {
    const q8 = await launch('q8').session.hello();
    expect(q8).to.include({ weights: 'q8_0', weightsCode: 1, groupSize: 4, seqLen: 512, maxPromptTokens: 244 });
    const mixed = await launch('mixed').session.hello();
    expect(mixed).to.include({ weights: 'mixed', weightsCode: 3, groupSize: builds.mixed.plan.groupSize });
    expect(mixed.groupSize).to.be.greaterThan(0);
    const short = await launch('short').session.hello();
    expect(short).to.include({ weights: 'f32', seqLen: 32, maxPromptTokens: 32 });
    const f32 = await launch('f32').session.hello();
    expect(new Set([q8.modelHash, mixed.modelHash, short.modelHash, f32.modelHash]).size).to.equal(4);
  });

  for (const [name, weights] of [
    ['f32', 'f32'],
    ['q8', 'q8_0'],
  ] as const) {
    it(`streams llama2.c's ${weights} goldens token for token, one request after another in one process`, async () => {
      const { session, stderr } = launch(name);
      const files = goldenIdFiles().filter((f) => goldenSettings(f).weights === weights);
      expect(files.length).to.be.at.least(2);
      for (const file of [...files, files[0]]) {
        const s = goldenSettings(file);
        const prompt = tokenizer.encode(s.prompt, true, false);
        expect(prompt, 'the host tokenizes as llama2.c').to.deep.equal(readGoldenIds(file).prompt);
        const tokens: TokenMessage[] = [];
        const summary = await session.generate({ prompt, steps: 256, temperature: s.temperature, topp: s.topp, seed: s.seed }, (t) =>
          tokens.push(t),
        );
        expect(idLines(tokens), `${file}; stderr: ${stderr()}`).to.deep.equal(goldenLines(file));
        expect(tokens.map((t) => t.position)).to.deep.equal(tokens.map((_, i) => i));
        const sampledBos = tokens[tokens.length - 1].token === 1 && tokens[tokens.length - 1].generated;
        expect(summary).to.include({
          reason: sampledBos ? 'bos' : 'steps',
          positions: tokens.length - 1,
          generated: tokens.filter((t) => t.generated).length,
          tokensReceived: tokens.length,
        });
        expect(summary.totalMicros).to.be.greaterThan(0);
      }
    });
  }

  it('gives the same tokens with 2 threads', async () => {
    const { session } = launch('f32', ['--threads', '2']);
    const file = 'stories260K_f32_t1.0_p0.9_s42_one_day.ids';
    const s = goldenSettings(file);
    const tokens: TokenMessage[] = [];
    await session.generate(
      { prompt: tokenizer.encode(s.prompt, true, false), steps: 256, temperature: s.temperature, topp: s.topp, seed: s.seed },
      (t) => tokens.push(t),
    );
    expect(idLines(tokens)).to.deep.equal(goldenLines(file));
  });

  it('answers bad frames with ERROR frames and serves the next request as if nothing happened', async () => {
    const { session } = launch('f32');
    await session.hello();
    const request = { prompt: [1, 403, 407, 261, 378], steps: 40, temperature: 0, topp: 0.9, seed: 1 };
    const expected = goldenLines('stories260K_f32_greedy_once_upon_a_time.ids').slice(0, 41);
    const isError = (m: Message): m is ErrorMessage => m.type === 'error';

    // a GENERATE with one bit flipped
    const corrupted = encodeMessage({ type: 'generate', requestId: 500, steps: 10, temperature: 0, topp: 0.9, seed: 1n, prompt: [1] });
    corrupted[12] ^= 0x04;
    session.sendRaw(corrupted);
    expect(await session.waitFor(isError, 10_000)).to.include({ code: ErrorCode.BAD_CRC, requestId: 0, detail: corrupted.length - 1 });
    let tokens: TokenMessage[] = [];
    await session.generate(request, (t) => tokens.push(t));
    expect(idLines(tokens)).to.deep.equal(expected);

    // garbage, a cut frame, an unknown type, a wrong length, an oversized frame: one ERROR each
    session.sendRaw(Uint8Array.from([0x31, 0x32, 0x33, 0x00]));
    session.sendRaw(Uint8Array.from([...corrupted.subarray(0, 7), 0x00])); // 03 02 01 01 02 01 01: complete blocks
    session.sendRaw(encodeFrame(0x55, Uint8Array.of(1, 2, 3)));
    session.sendRaw(encodeFrame(0x02, new Uint8Array(21)));
    session.sendRaw(encodeFrame(0x40, new Uint8Array(600).fill(1)));
    session.sendRaw(encodeFrame(0x03, new Uint8Array(3)));
    const errors: ErrorMessage[] = [];
    for (let i = 0; i < 6; i++) errors.push(await session.waitFor(isError, 10_000));
    expect(errors.map((e) => [e.codeName, e.detail])).to.deep.equal([
      ['TRUNCATED', 3], // code 0x31 announces 48 bytes
      ['BAD_CRC', 7], // the first blocks of the GENERATE, whole, but not its CRC
      ['UNKNOWN_TYPE', 0x55],
      ['BAD_LENGTH', 21],
      ['OVERSIZED', encodeFrame(0x40, new Uint8Array(600).fill(1)).length - 1],
      ['BAD_LENGTH', 3],
    ]);
    tokens = [];
    await session.generate(request, (t) => tokens.push(t));
    expect(idLines(tokens)).to.deep.equal(expected);
  });

  it("refuses bad parameters with the request id, and the session reports the device's reason", async () => {
    const { session } = launch('f32');
    await session.hello();
    const bad = async (g: Partial<Extract<Message, { type: 'generate' }>>) => {
      session.send({ type: 'generate', requestId: 700, steps: 10, temperature: 0, topp: 0.9, seed: 1n, prompt: [1], ...g });
      return session.waitFor((m): m is ErrorMessage => m.type === 'error', 10_000);
    };
    expect(await bad({ seed: 0n })).to.include({ code: ErrorCode.BAD_PARAMETERS, requestId: 700, detail: 3 });
    expect(await bad({ temperature: NaN })).to.include({ code: ErrorCode.BAD_PARAMETERS, detail: 1 });
    expect(await bad({ topp: 2 })).to.include({ code: ErrorCode.BAD_PARAMETERS, detail: 2 });
    expect(await bad({ prompt: [1, 512] })).to.include({ code: ErrorCode.BAD_PARAMETERS, detail: 4 });

    // a session that has not seen the limits sends it anyway; the device's refusal comes back as a DeviceError
    const { session: other } = launch('short');
    const hello = await other.hello();
    other.device = { ...hello, maxPromptTokens: 1000 };
    const err = await other.generate({ prompt: Array(33).fill(1), temperature: 0, topp: 0.9, seed: 1 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeviceError);
    expect((err as DeviceError).error).to.include({ code: ErrorCode.PROMPT_TOO_LONG, detail: 32 });
  });

  it('runs steps 0, and too many steps, to seq_len, as run.c', async () => {
    const { session } = launch('short');
    for (const steps of [0, 1000]) {
      const tokens: TokenMessage[] = [];
      const summary = await session.generate({ prompt: [1, 403, 407], steps, temperature: 0, topp: 0.9, seed: 1 }, (t) => tokens.push(t));
      expect(summary).to.include({ positions: 32, reason: 'steps' });
      expect(idLines(tokens)).to.deep.equal(
        goldenLines('stories260K_f32_greedy_once_upon_a_time.ids')
          .slice(0, 33)
          .map((l, i) => (i >= 1 && i <= 2 ? l : i === 0 ? l : l.replace(/^P/, 'G'))),
      );
    }
  });

  it('answers HELLO_REQUEST and refuses another GENERATE as BUSY while generating, and stops on CANCEL', async () => {
    const { session, events } = launch('f32');
    await session.hello();
    const first = { type: 'generate' as const, requestId: 900, steps: 256, temperature: 0, topp: 0.9, seed: 1n, prompt: [1] };
    // all in one write: the program reads them between two positions of the first generation
    session.sendRaw(
      Buffer.concat([
        encodeMessage(first),
        encodeMessage({ ...first, requestId: 901 }),
        encodeMessage({ type: 'hello-request', hostVersion: 1 }),
        encodeMessage({ type: 'cancel', requestId: 12345 }), // not the running one: ignored
      ]),
    );
    const done = await session.waitFor((m): m is Extract<Message, { type: 'done' }> => m.type === 'done', 30_000);
    expect(done).to.include({ requestId: 900, reason: 'steps', positions: 256 }); // the greedy_empty golden has no BOS
    const seen = events.flatMap((e) => (e.kind === 'message' ? [e.message] : []));
    const busy = seen.find((m) => m.type === 'error');
    expect(busy).to.include({ code: ErrorCode.BUSY, requestId: 901, detail: 900 });
    const firstToken = seen.findIndex((m) => m.type === 'token' && m.requestId === 900);
    const doneAt = seen.findIndex((m) => m.type === 'done');
    expect(
      seen.slice(firstToken, doneAt).filter((m) => m.type === 'hello'),
      'a HELLO between the TOKENs',
    ).to.have.length(1);

    // cancel by aborting: the generation stops early with reason "cancelled"
    const abort = new AbortController();
    const tokens: TokenMessage[] = [];
    const summary = await session.generate(
      { prompt: [1], steps: 0, temperature: 0, topp: 0.9, seed: 1 },
      (t) => {
        tokens.push(t);
        if (tokens.length === 5) abort.abort();
      },
      { signal: abort.signal },
    );
    expect(summary.reason).to.equal('cancelled');
    expect(summary.positions).to.be.below(512);
    expect(tokens.length).to.equal(summary.positions + 1);
    // and the next request runs to the end
    expect((await session.generate({ prompt: [1], steps: 20, temperature: 0, topp: 0.9, seed: 1 })).reason).to.equal('steps');
  });

  it('finds the program again behind garbage sent first', async () => {
    const { session, events } = launch('f32');
    session.sendRaw(Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + 1) % 251 || 5));
    expect((await session.hello()).targetName).to.equal('host');
    await session.hello(); // that first HELLO may be the start-up one: this one comes after the device read the garbage
    expect(events.some((e) => e.kind === 'message' && e.message.type === 'error' && e.message.code === ErrorCode.OVERSIZED)).to.equal(true);
  });

  it('exits with status 0 when stdin closes, idle or after finishing the generation under way', async () => {
    const idle = launch('f32');
    await idle.session.hello();
    idle.session.close();
    expect(await withTimeout(idle.exited, 10_000, 'exit when idle')).to.equal(0);

    const busy = launch('f32');
    const out: Buffer[] = [];
    busy.child.stdout.on('data', (d: Buffer) => out.push(d));
    busy.child.stdin.end(
      Buffer.from(encodeMessage({ type: 'generate', requestId: 3, steps: 50, temperature: 0, topp: 0.9, seed: 1n, prompt: [1] })),
    );
    expect(await withTimeout(busy.exited, 10_000, 'exit after the generation')).to.equal(0);
    const messages = new FrameDecoder()
      .push(Buffer.concat(out))
      .flatMap((e) => (e.kind === 'frame' ? [(decodeFrame(e) as { message: Message }).message] : []));
    expect(messages.filter((m) => m.type === 'token')).to.have.length(51);
    expect(messages[messages.length - 1]).to.include({ type: 'done', requestId: 3, positions: 50 });
  });
});
