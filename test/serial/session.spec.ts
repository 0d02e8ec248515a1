/**
 * DeviceSession against scripted devices over in-memory streams: resynchronization through
 * garbage, version mismatch, timeouts of a silent or stalled device, refusals, cancellation.
 */
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { decodeFrame, encodeFrame, encodeMessage, ErrorCode, FrameDecoder, type Message } from '../../src/serial/protocol.js';
import {
  DeviceBusyError,
  DeviceError,
  DeviceProtocolError,
  DeviceSession,
  ProtocolTimeoutError,
  ProtocolVersionError,
  type SessionEvent,
} from '../../src/serial/session.js';
import { FAKE_HELLO, FakeDevice } from './fake-device.js';

const HELLO = FAKE_HELLO;

type Reply = (m: Message | Uint8Array) => void;

/** A device that runs `script` on every message it receives. */
function fakeDevice(script: (m: Message, reply: Reply) => void) {
  const toDevice = new PassThrough();
  const fromDevice = new PassThrough();
  const decoder = new FrameDecoder();
  const received: Message[] = [];
  const reply: Reply = (m) => fromDevice.write(m instanceof Uint8Array ? m : encodeMessage(m));
  toDevice.on('data', (chunk: Buffer) => {
    for (const e of decoder.push(chunk)) {
      if (e.kind !== 'frame') continue;
      const r = decodeFrame(e);
      if ('message' in r) {
        received.push(r.message);
        script(r.message, reply);
      }
    }
  });
  return { link: { fromDevice, toDevice }, received, reply, fromDevice };
}

/** Answers HELLO_REQUEST, and GENERATE with its prompt then `generated` tokens 100, 101, … */
function generatingDevice(generated: number) {
  return (m: Message, reply: Reply) => {
    if (m.type === 'hello-request') reply(HELLO);
    if (m.type !== 'generate') return;
    const id = m.requestId;
    m.prompt.forEach((token, position) => reply({ type: 'token', requestId: id, position, token, generated: false, stepMicros: 5 }));
    for (let i = 0; i < generated; i++)
      reply({ type: 'token', requestId: id, position: m.prompt.length + i, token: 100 + i, generated: true, stepMicros: 7 });
    reply({
      type: 'done',
      requestId: id,
      reason: 'steps',
      reasonCode: 0,
      positions: m.prompt.length - 1 + generated,
      generated,
      totalMicros: 1234,
    });
  };
}

const quick = { helloTimeoutMs: 400, helloRetryMs: 100, responseTimeoutMs: 300, firstRequestId: 1 };

describe('serial: DeviceSession', () => {
  it('times out on a silent device with a message that says what it tried', async () => {
    const device = fakeDevice(() => {});
    const session = new DeviceSession(device.link, quick);
    const started = Date.now();
    const err = await session.hello().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProtocolTimeoutError);
    expect((err as Error).message).to.match(/no HELLO from the device within 0\.4 s \(\d+ HELLO_REQUESTs sent/);
    // not before its 0.4 s timeout; the upper bound only guards against a hang (CI boxes get loaded)
    expect(Date.now() - started).to.be.within(350, 20_000);
    expect(device.received.filter((m) => m.type === 'hello-request').length).to.be.at.least(3);
  });

  it('finds the HELLO behind garbage, bad frames and stale tokens', async () => {
    const events: SessionEvent[] = [];
    const device = fakeDevice((m, reply) => {
      if (m.type !== 'hello-request') return;
      reply(Uint8Array.from([0x13, 0x37, 0x00, 0xff, 0xfe, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x00]));
      reply({ type: 'token', requestId: 9, position: 3, token: 4, generated: true, stepMicros: 1 });
      reply(Uint8Array.from([0x42, 0x42])); // a partial frame, then the device's start-up delimiter
      reply(Uint8Array.of(0));
      reply(HELLO);
    });
    const session = new DeviceSession(device.link, { ...quick, onEvent: (e) => events.push(e) });
    expect(await session.hello()).to.deep.equal(HELLO);
    expect(events.filter((e) => e.kind === 'bad-frame').length).to.be.at.least(3);
    expect(device.received[0]).to.deep.equal({ type: 'hello-request', hostVersion: 1 });
  });

  it('retries HELLO_REQUEST when the first one is lost', async () => {
    let requests = 0;
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request' && ++requests === 3) reply(HELLO);
    });
    const session = new DeviceSession(device.link, { ...quick, helloTimeoutMs: 2000 });
    expect((await session.hello()).targetName).to.equal('fake');
    expect(requests).to.equal(3);
  });

  it('says which side to update when the device speaks another version', async () => {
    const device = fakeDevice((m, reply) => m.type === 'hello-request' && reply({ type: 'hello-unsupported', version: 2 }));
    const err = await new DeviceSession(device.link, quick).hello().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProtocolVersionError);
    expect((err as Error).message).to.match(
      /device speaks protocol version 2, but this llama2-embed speaks version 1: update llama2-embed/,
    );
  });

  it('streams the tokens of its own request and returns the DONE', async () => {
    const device = fakeDevice(generatingDevice(4));
    const session = new DeviceSession(device.link, quick);
    const tokens: string[] = [];
    const summary = await session.generate({ prompt: [1, 50, 60], steps: 6, temperature: 0, topp: 0.9, seed: 3 }, (t) =>
      tokens.push(`${t.generated ? 'G' : 'P'}${t.position}:${t.token}`),
    );
    expect(tokens).to.deep.equal(['P0:1', 'P1:50', 'P2:60', 'G3:100', 'G4:101', 'G5:102', 'G6:103']);
    expect(summary).to.deep.equal({ requestId: 1, reason: 'steps', positions: 6, generated: 4, totalMicros: 1234, tokensReceived: 7 });
    const generate = device.received.find((m) => m.type === 'generate');
    expect(generate).to.deep.equal({
      type: 'generate',
      requestId: 1,
      steps: 6,
      temperature: 0,
      topp: Math.fround(0.9),
      seed: 3n,
      prompt: [1, 50, 60],
    });
    // a second request gets the next id
    expect((await session.generate({ prompt: [1], temperature: 1, topp: 0.9 })).requestId).to.equal(2);
  });

  it('ignores frames of other requests', async () => {
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request') reply(HELLO);
      if (m.type !== 'generate') return;
      reply({ type: 'token', requestId: m.requestId + 1, position: 0, token: 7, generated: false, stepMicros: 0 });
      reply({ type: 'done', requestId: m.requestId + 1, reason: 'bos', reasonCode: 1, positions: 0, generated: 0, totalMicros: 0 });
      generatingDevice(1)(m, reply);
    });
    const tokens: number[] = [];
    const summary = await new DeviceSession(device.link, quick).generate({ prompt: [1], temperature: 0, topp: 0.9, seed: 1 }, (t) =>
      tokens.push(t.token),
    );
    expect(tokens).to.deep.equal([1, 100]);
    expect(summary.reason).to.equal('steps');
  });

  it("fails with the device's ERROR when it refuses the request", async () => {
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request') reply(HELLO);
      if (m.type === 'generate')
        reply({
          type: 'error',
          code: ErrorCode.BAD_PARAMETERS,
          codeName: 'BAD_PARAMETERS',
          requestId: m.requestId,
          detail: 1,
          message: 'bad temperature',
        });
    });
    const err = await new DeviceSession(device.link, quick)
      .generate({ prompt: [1], temperature: 0, topp: 0.9, seed: 1 })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeviceError);
    expect((err as DeviceError).error.code).to.equal(ErrorCode.BAD_PARAMETERS);
    expect((err as Error).message).to.equal('request 1 refused: the device answered BAD_PARAMETERS (detail 1): bad temperature.');
  });

  it('fails at once when the device could not read the GENERATE', async () => {
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request') reply(HELLO);
      if (m.type === 'generate')
        reply({
          type: 'error',
          code: ErrorCode.BAD_CRC,
          codeName: 'BAD_CRC',
          requestId: 0,
          detail: 30,
          message: 'bad frame: CRC mismatch',
        });
    });
    const err = await new DeviceSession(device.link, quick)
      .generate({ prompt: [1], temperature: 0, topp: 0.9, seed: 1 })
      .catch((e: unknown) => e);
    expect((err as Error).message).to.match(/^request 1 not understood by the device: the device answered BAD_CRC/);
  });

  it('refuses, before sending, a request the HELLO says the device would refuse', async () => {
    const device = fakeDevice(generatingDevice(1));
    const session = new DeviceSession(device.link, quick);
    await session.hello();
    for (const [req, message] of [
      [{ prompt: Array(9).fill(1), temperature: 0, topp: 0.9 }, /the prompt has 9 tokens; the device accepts at most 8/],
      [{ prompt: [1, 600], temperature: 0, topp: 0.9 }, /prompt token 1 is 600, not below the vocabulary size 512/],
      [{ prompt: [1], temperature: -1, topp: 0.9 }, /temperature must be/],
      [{ prompt: [1], temperature: 0, topp: 0.9, seed: 0 }, /seed must not be 0/],
      [{ prompt: [], temperature: 0, topp: 0.9 }, /at least one token/],
      [{ prompt: [1], steps: 70000, temperature: 0, topp: 0.9 }, /steps must be a whole number from 0 to 65535/],
    ] as const) {
      const err = await session.generate({ ...req, prompt: [...req.prompt] }).catch((e: unknown) => e);
      expect((err as Error).message).to.match(message);
    }
    expect(device.received.filter((m) => m.type === 'generate')).to.deep.equal([]);
  });

  it('times out when the device stops in the middle of a generation', async () => {
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request') reply(HELLO);
      if (m.type === 'generate') reply({ type: 'token', requestId: m.requestId, position: 0, token: 1, generated: false, stepMicros: 0 });
    });
    const err = await new DeviceSession(device.link, quick)
      .generate({ prompt: [1], temperature: 0, topp: 0.9, seed: 1 })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProtocolTimeoutError);
    expect((err as Error).message).to.match(/the device sent nothing for 0\.3 s after 1 tokens \(request 1\)/);
  });

  it('fails, and does not hang, when the device closes the connection', async () => {
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request') reply(HELLO);
      if (m.type === 'generate') device.fromDevice.end();
    });
    const session = new DeviceSession(device.link, { ...quick, responseTimeoutMs: 60_000 });
    const err = await session.generate({ prompt: [1], temperature: 0, topp: 0.9, seed: 1 }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('the device closed the connection.');
    const again = await session.hello().catch((e: unknown) => e);
    expect((again as Error).message).to.match(/cannot write to the device: the device closed the connection/);
  });

  it('sends CANCEL when the caller aborts, and returns the cancelled DONE', async () => {
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request') reply(HELLO);
      if (m.type === 'generate') reply({ type: 'token', requestId: m.requestId, position: 0, token: 1, generated: false, stepMicros: 0 });
      if (m.type === 'cancel')
        reply({ type: 'done', requestId: m.requestId, reason: 'cancelled', reasonCode: 2, positions: 0, generated: 0, totalMicros: 9 });
    });
    const abort = new AbortController();
    const summary = await new DeviceSession(device.link, quick).generate(
      { prompt: [1], temperature: 0, topp: 0.9, seed: 1 },
      () => abort.abort(),
      { signal: abort.signal },
    );
    expect(summary.reason).to.equal('cancelled');
    expect(device.received.filter((m) => m.type === 'cancel')).to.deep.equal([{ type: 'cancel', requestId: 1 }]);
  });

  it('allows one request at a time', async () => {
    const device = fakeDevice(generatingDevice(1));
    const session = new DeviceSession(device.link, quick);
    await session.hello();
    const first = session.generate({ prompt: [1], temperature: 0, topp: 0.9, seed: 1 });
    const err = await session.generate({ prompt: [1], temperature: 0, topp: 0.9, seed: 1 }).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/one request at a time/);
    expect((await first).reason).to.equal('steps');
  });
});

describe('serial: DeviceSession after another host (issue 20.1)', () => {
  const devices: FakeDevice[] = [];
  const fake = (options?: ConstructorParameters<typeof FakeDevice>[0]) => {
    const d = new FakeDevice(options);
    devices.push(d);
    return d;
  };
  afterEach(() => devices.splice(0).forEach((d) => d.stop()));

  it('cancels the generation a killed monitor left running, and never takes its tokens for its own', async () => {
    const device = fake({ stepMs: 5 });
    device.start(1, 400); // an earlier monitor's request 1 (every process used to start at 1), still streaming
    await new Promise((r) => setTimeout(r, 30));
    const session = new DeviceSession(device.link, { helloTimeoutMs: 2000, helloRetryMs: 100, responseTimeoutMs: 2000 });
    const tokens: string[] = [];
    const summary = await session.generate({ prompt: [1, 50, 60], steps: 6, temperature: 0, topp: 0.9, seed: 3 }, (t) =>
      tokens.push(`${t.generated ? 'G' : 'P'}${t.position}:${t.token}`),
    );
    expect(tokens).to.deep.equal(['P0:1', 'P1:50', 'P2:60', 'G3:100', 'G4:101', 'G5:102', 'G6:103']);
    expect(summary).to.include({ reason: 'steps', positions: 6, tokensReceived: 7 });
    expect(summary.requestId).to.not.equal(1);
    expect(device.received.filter((m) => m.type === 'cancel')).to.deep.equal([{ type: 'cancel', requestId: 1 }]);
    const generates = device.received.filter((m) => m.type === 'generate');
    expect(generates).to.have.length(2); // refused BUSY once, then sent again after the old one's DONE
  });

  it('gives each process its own request ids: a random start from 1 to 65535', async () => {
    const first = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const device = fake({ stepMs: 0 });
      const summary = await new DeviceSession(device.link, { responseTimeoutMs: 2000 }).generate({
        prompt: [1],
        steps: 1,
        temperature: 0,
        topp: 0.9,
        seed: 1,
      });
      expect(summary.requestId).to.be.within(1, 65535);
      first.add(summary.requestId);
    }
    expect(first.size).to.be.greaterThan(10);
  });

  it('never reuses an id the device was seen running for another host', async () => {
    const device = fake({ stepMs: 5 });
    device.start(7, 400);
    await new Promise((r) => setTimeout(r, 20));
    const summary = await new DeviceSession(device.link, { ...quick, firstRequestId: 7, responseTimeoutMs: 2000 }).generate({
      prompt: [1],
      steps: 2,
      temperature: 0,
      topp: 0.9,
      seed: 1,
    });
    expect(summary.requestId).to.equal(8);
    expect(summary.tokensReceived).to.equal(3);
  });

  it('a device that stays BUSY (its request never stops): after a bounded number of tries, says it is busy and what to do', async () => {
    const device = fake({ stepMs: 5, ignoresCancel: true });
    device.start(4242, 60_000);
    const started = Date.now();
    const err = await new DeviceSession(device.link, { ...quick, firstRequestId: 1, responseTimeoutMs: 150 })
      .generate({ prompt: [1], steps: 4, temperature: 0, topp: 0.9, seed: 1 })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeviceBusyError);
    expect((err as Error).message).to.match(
      /^the device is busy with another request \(id 4242, not this monitor's\): it answered BUSY to 4 GENERATEs over \d+\.\d s and did not stop when asked to cancel that request\. .*close it .* reset the board/,
    );
    expect(Date.now() - started).to.be.below(5000);
    expect(device.received.filter((m) => m.type === 'cancel').length).to.equal(3);
  });
});

describe('serial: DeviceSession does not trust the device (issue 20.7)', () => {
  const token = (requestId: number, position: number, tokenId = 100 + position) =>
    ({ type: 'token', requestId, position, token: tokenId, generated: position > 0, stepMicros: 5 }) as const;
  const done = (requestId: number, positions: number) =>
    ({ type: 'done', requestId, reason: 'steps', reasonCode: 0, positions, generated: positions, totalMicros: 10 }) as const;
  const request = { prompt: [1], steps: 20, temperature: 0, topp: 0.9, seed: 1 };

  async function failure(script: (m: Extract<Message, { type: 'generate' }>, reply: Reply) => void, options = {}) {
    const device = fakeDevice((m, reply) => {
      if (m.type === 'hello-request') reply(HELLO);
      if (m.type === 'generate') script(m, reply);
    });
    const err = await new DeviceSession(device.link, { ...quick, ...options }).generate(request).catch((e: unknown) => e);
    return { err: err as Error, device };
  }

  it('-n 20 and a device that sends more tokens than that: stops at the first beyond position 20, cancels, says so', async () => {
    const { err, device } = await failure((m, reply) => {
      for (let p = 0; p <= 200; p++) reply(token(m.requestId, p));
    });
    expect(err).to.be.instanceOf(DeviceProtocolError);
    expect(err.message).to.match(
      /^the device sent a token at position 21, beyond the last position asked for, 20 \(request 1, 20 steps asked for\)\. The device does not follow the protocol/,
    );
    expect(device.received.filter((m) => m.type === 'cancel')).to.deep.equal([{ type: 'cancel', requestId: 1 }]);
  });

  it("a device that streams another request's tokens forever: the silence about ours still times out", async () => {
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    const { err } = await failure((_m, reply) => {
      timer = setInterval(() => reply(token(999, 1)), 10);
    });
    clearInterval(timer);
    expect(err).to.be.instanceOf(ProtocolTimeoutError);
    expect(Date.now() - started).to.be.below(3000);
  });

  it('a DONE without any token is an error', async () => {
    const { err } = await failure((m, reply) => reply(done(m.requestId, 0)));
    expect(err).to.be.instanceOf(DeviceProtocolError);
    expect(err.message).to.match(/^the device said DONE without sending any token \(request 1/);
  });

  it('positions skipped, or sent twice, are errors', async () => {
    const skipped = await failure((m, reply) => [0, 1, 4].forEach((p) => reply(token(m.requestId, p))));
    expect(skipped.err).to.be.instanceOf(DeviceProtocolError);
    expect(skipped.err.message).to.match(/^the device skipped from position 1 to 4 \(positions 2 to 3 never arrived\) \(request 1/);
    const again = await failure((m, reply) => [0, 1, 2, 1].forEach((p) => reply(token(m.requestId, p))));
    expect(again.err.message).to.match(/^the device sent position 1 again, after 2 \(request 1/);
  });

  it('a DONE that does not count the tokens sent is an error', async () => {
    const { err } = await failure((m, reply) => {
      [0, 1, 2].forEach((p) => reply(token(m.requestId, p)));
      reply(done(m.requestId, 7));
    });
    expect(err.message).to.match(/^the device said DONE after 7 positions, but sent 3 tokens \(positions 0 to 2\)/);
  });

  it("shows an ERROR's message with its control characters escaped", async () => {
    const payload = Buffer.concat([Buffer.from([ErrorCode.INTERNAL, 1, 0, 0, 0, 0, 0]), Buffer.from('\x1b[2Jgone\x07\\', 'latin1')]);
    const { err } = await failure((_m, reply) => reply(encodeFrame(0x84, payload)));
    expect(err).to.be.instanceOf(DeviceError);
    expect(err.message).to.equal('request 1 refused: the device answered INTERNAL (detail 0): \\x1b[2Jgone\\x07\\\\.');
  });
});
