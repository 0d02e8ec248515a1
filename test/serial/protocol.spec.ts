/**
 * Frames: encode/decode round trips over random chunking, the streaming decoder on garbage,
 * flipped bits, cut and oversized frames (never throws, always finds the next good frame), and
 * the byte-level examples of doc/protocol.md.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import {
  checkGenerate,
  cobsEncode,
  crc16,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  ErrorCode,
  FrameDecoder,
  MAX_FRAME,
  messagePayload,
  parseMessage,
  type DecoderEvent,
  type FrameEvent,
  type Generate,
  type Message,
} from '../../src/serial/protocol.js';
import { asSent, chunked, concat, decodeChunks, messageArb } from './arbitraries.js';

const frameArb = fc.record({ type: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: MAX_FRAME - 3 }) });
const cutsArb = fc.array(fc.nat(), { maxLength: 12 });
const frames = (events: DecoderEvent[]) => events.filter((e): e is FrameEvent => e.kind === 'frame');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function messagesOf(events: DecoderEvent[]): Message[] {
  return frames(events).map((f) => {
    const r = decodeFrame(f);
    if ('error' in r) throw new Error(r.error.message);
    return r.message;
  });
}

describe('serial: frames', () => {
  it('round-trips random frames fed in random chunks', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 6 }), cutsArb, (fs, cuts) => {
        const stream = concat(fs.map((f) => encodeFrame(f.type, f.payload)));
        const events = decodeChunks(chunked(stream, cuts));
        expect(events.map((e) => (e.kind === 'frame' ? `${e.type}:${hex(e.payload)}` : `error ${e.code}`))).to.deep.equal(
          fs.map((f) => `${f.type}:${hex(f.payload)}`),
        );
      }),
    );
  });

  it('round-trips every message type, fed byte by byte or in random chunks', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 8 }), cutsArb, (ms, cuts) => {
        const stream = concat(ms.map(encodeMessage));
        expect(messagesOf(decodeChunks(chunked(stream, cuts)))).to.deep.equal(ms.map(asSent));
        expect(messagesOf(decodeChunks(Array.from(stream, (b) => Uint8Array.of(b))))).to.deep.equal(ms.map(asSent));
      }),
    );
  });

  it('takes frames of exactly the maximum size and reports one byte more as OVERSIZED, then carries on', () => {
    const largest = new Uint8Array(MAX_FRAME - 3).fill(7);
    const tooLarge = new Uint8Array(MAX_FRAME - 2).fill(7);
    const next = encodeMessage({ type: 'cancel', requestId: 9 });
    const events = decodeChunks([encodeFrame(0x42, largest), encodeFrame(0x42, tooLarge), next]);
    expect(events.map((e) => (e.kind === 'frame' ? e.payload.length : e.code))).to.deep.equal([MAX_FRAME - 3, ErrorCode.OVERSIZED, 2]);
    expect(events[1].kind === 'error' && events[1].detail).to.equal(encodeFrame(0x42, tooLarge).length - 1);
  });

  it('reports frames of fewer than 3 bytes, and cuts inside a COBS block, as TRUNCATED', () => {
    const codes = (bytes: number[]) => decodeChunks([Uint8Array.from(bytes)]).map((e) => (e.kind === 'error' ? e.code : 'frame'));
    expect(codes([0x01, 0x00])).to.deep.equal([ErrorCode.TRUNCATED]); // an empty frame
    expect(codes([0x03, 0x01, 0x02, 0x00])).to.deep.equal([ErrorCode.TRUNCATED]); // 2 bytes
    expect(codes([0x05, 0x01, 0x02, 0x00])).to.deep.equal([ErrorCode.TRUNCATED]); // block wanted 4 bytes
    expect(codes([0x00, 0x00, 0x00])).to.deep.equal([]); // lone delimiters are not frames
    const d = new FrameDecoder();
    d.push(Uint8Array.of(0x05, 0x01));
    expect(d.end().map((e) => e.kind === 'error' && e.code)).to.deep.equal([ErrorCode.TRUNCATED]);
  });

  it('reports a CRC mismatch', () => {
    const frame = encodeMessage({ type: 'cancel', requestId: 0x1234 });
    frame[2] ^= 0x10;
    const [event] = decodeChunks([frame]);
    expect(event.kind === 'error' && event.code).to.equal(ErrorCode.BAD_CRC);
    expect(event.kind === 'error' && event.detail).to.equal(frame.length - 1);
  });

  it('reads unknown types and wrong lengths as payload errors, not exceptions', () => {
    const unknown = parseMessage(0x7f, new Uint8Array(3));
    expect('error' in unknown && unknown.error.code).to.equal(ErrorCode.UNKNOWN_TYPE);
    for (const [type, length] of [
      [0x02, 21],
      [0x02, 20],
      [0x02, 23],
      [0x03, 3],
      [0x82, 10],
      [0x83, 16],
      [0x84, 6],
      [0x81, 46],
    ] as const) {
      const r = parseMessage(type, new Uint8Array(length).fill(1));
      expect('error' in r && r.error.code, `type ${type} length ${length}`).to.equal(ErrorCode.BAD_LENGTH);
    }
    // any HELLO_REQUEST is fine, whatever a later version puts in it
    expect(parseMessage(0x01, new Uint8Array(0))).to.deep.equal({ message: { type: 'hello-request', hostVersion: 0 } });
    expect(parseMessage(0x01, Uint8Array.of(3, 4, 5))).to.deep.equal({ message: { type: 'hello-request', hostVersion: 3 } });
  });

  it('reads a HELLO of another version as unsupported, from its first byte alone', () => {
    expect(parseMessage(0x81, Uint8Array.of(2))).to.deep.equal({ message: { type: 'hello-unsupported', version: 2 } });
    expect(parseMessage(0x81, Uint8Array.of(0, 1, 2, 3))).to.deep.equal({ message: { type: 'hello-unsupported', version: 0 } });
  });

  it('refuses to encode values that do not fit their fields', () => {
    expect(() => messagePayload({ type: 'cancel', requestId: 65536 })).to.throw(RangeError);
    expect(() => messagePayload({ type: 'generate', requestId: 1, steps: 1, temperature: 0, topp: 0, seed: 1n, prompt: [70000] })).to.throw(
      RangeError,
    );
    expect(() => messagePayload({ type: 'error', code: 1, codeName: '', requestId: 0, detail: 0, message: 'ü' })).to.throw(RangeError);
  });

  it('checks a GENERATE the way the device does', () => {
    const g: Generate = { type: 'generate', requestId: 1, steps: 0, temperature: 0.8, topp: 0.9, seed: 5n, prompt: [1, 2, 3] };
    const limits = { maxPromptTokens: 3, vocabSize: 512 };
    expect(checkGenerate(g, limits)).to.equal(undefined);
    expect(checkGenerate({ ...g, prompt: [1, 2, 3, 4] }, limits)?.code).to.equal(ErrorCode.PROMPT_TOO_LONG);
    expect(checkGenerate({ ...g, temperature: -1 }, limits)?.detail).to.equal(1);
    expect(checkGenerate({ ...g, temperature: Infinity }, limits)?.detail).to.equal(1);
    expect(checkGenerate({ ...g, topp: 1.5 }, limits)?.detail).to.equal(2);
    expect(checkGenerate({ ...g, topp: NaN }, limits)?.detail).to.equal(2);
    expect(checkGenerate({ ...g, seed: 0n }, limits)?.detail).to.equal(3);
    expect(checkGenerate({ ...g, prompt: [1, 512] }, limits)?.detail).to.equal(4);
  });
});

describe('serial: the decoder on bad input', () => {
  const goodArb = fc.oneof(
    messageArb.map(encodeMessage),
    frameArb.map((f) => encodeFrame(f.type, f.payload)),
  );

  it('never throws on random bytes, and reports only frames and frame errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), cutsArb, fc.integer({ min: 3, max: 600 }), (bytes, cuts, maxFrame) => {
        const events = decodeChunks(chunked(bytes, cuts), maxFrame);
        for (const e of events) {
          if (e.kind === 'frame') expect(e.payload.length).to.be.at.most(maxFrame - 3);
          else expect([ErrorCode.BAD_CRC, ErrorCode.TRUNCATED, ErrorCode.OVERSIZED]).to.include(e.code);
        }
        // no more events than delimiters in the stream
        expect(events.length).to.be.at.most(bytes.filter((b) => b === 0).length);
        for (const f of frames(events)) decodeFrame(f); // and reading them as messages does not throw either
      }),
    );
  });

  it('finds the next good frame after any garbage and a delimiter', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), goodArb, cutsArb, (garbage, good, cuts) => {
        const events = decodeChunks(chunked(concat([garbage, Uint8Array.of(0), good]), cuts));
        const last = events[events.length - 1];
        expect(last.kind).to.equal('frame');
        expect(hex(encodeFrame((last as FrameEvent).type, (last as FrameEvent).payload))).to.equal(hex(good));
      }),
    );
  });

  it('survives a flipped bit in a frame, and decodes the frame after it', () => {
    fc.assert(
      fc.property(goodArb, goodArb, fc.nat(), fc.integer({ min: 0, max: 7 }), cutsArb, (first, second, at, bit, cuts) => {
        const bad = first.slice();
        bad[at % (bad.length - 1)] ^= 1 << bit; // not its delimiter
        const events = decodeChunks(chunked(concat([bad, second]), cuts));
        const last = events[events.length - 1] as FrameEvent;
        expect(last.kind).to.equal('frame');
        expect(hex(encodeFrame(last.type, last.payload))).to.equal(hex(second));
        // the damaged frame itself is reported, not passed on as it was (the last frame is the
        // second one, which may be the same as the first)
        expect(frames(events.slice(0, -1)).some((f) => hex(encodeFrame(f.type, f.payload)) === hex(first))).to.equal(false);
      }),
    );
  });

  it('after a frame cut short: loses the next frame if nothing separates them, but not the one after', () => {
    fc.assert(
      fc.property(goodArb, goodArb, goodArb, fc.nat(), cutsArb, (first, second, third, cut, cuts) => {
        const partial = first.subarray(0, 1 + (cut % (first.length - 2)));
        const events = decodeChunks(chunked(concat([partial, second, third]), cuts));
        const last = events[events.length - 1] as FrameEvent;
        expect(hex(encodeFrame(last.type, last.payload))).to.equal(hex(third));
      }),
    );
  });

  it('after a frame cut short and a delimiter (a device reset), reports the cut frame and decodes the next', () => {
    fc.assert(
      fc.property(goodArb, goodArb, fc.nat(), cutsArb, (first, second, cut, cuts) => {
        const partial = first.subarray(0, 1 + (cut % (first.length - 2))); // not all of it
        const events = decodeChunks(chunked(concat([partial, Uint8Array.of(0), second]), cuts));
        // the cut frame: an error (or, once in 65536, a shorter frame that happens to pass the CRC)
        expect(events).to.have.length(2);
        expect(hex(encodeFrame((events[1] as FrameEvent).type, (events[1] as FrameEvent).payload))).to.equal(hex(second));
      }),
    );
  });

  it('drops an endless frame without storing it, and carries on', () => {
    const decoder = new FrameDecoder();
    const junk = new Uint8Array(100_000).fill(0x55);
    let events: DecoderEvent[] = [];
    for (let i = 0; i < 10; i++) events = events.concat(decoder.push(junk));
    expect(events).to.deep.equal([]);
    events = decoder.push(concat([Uint8Array.of(0), encodeMessage({ type: 'cancel', requestId: 3 })]));
    expect(events.map((e) => (e.kind === 'error' ? [e.code, e.detail] : e.kind))).to.deep.equal([
      [ErrorCode.OVERSIZED, 1_000_000],
      'frame',
    ]);
  });
});

describe('serial: the examples of doc/protocol.md', () => {
  const doc = readFileSync(join(projectRoot(), 'doc', 'protocol.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Byte-level examples'));
  const blocks = [...section.matchAll(/```\ndecoded: ([\s\S]*?)\nwire: +([\s\S]*?)\n```/g)];

  it('has examples of every frame type', () => {
    const types = blocks.map((b) => b[1].trim().slice(0, 2));
    expect(types.sort()).to.deep.equal(['01', '02', '03', '81', '82', '83', '84']);
  });

  for (const [, decodedText, wireText] of blocks) {
    it(`decodes the example of type 0x${decodedText.slice(0, 2)} and encodes it back`, () => {
      const [body, crcText] = decodedText.split('|');
      const bytes = (t: string) => Uint8Array.from(t.trim().split(/\s+/), (h) => parseInt(h, 16));
      const decoded = bytes(body);
      const crc = bytes(crcText);
      const wire = bytes(wireText);
      expect(crc16(decoded)).to.equal(crc[0] | (crc[1] << 8));
      expect(hex(concat([cobsEncode(concat([decoded, crc])), Uint8Array.of(0)]))).to.equal(hex(wire));
      const [event] = decodeChunks([wire]);
      expect(event.kind).to.equal('frame');
      const r = decodeFrame(event as FrameEvent);
      expect('message' in r, 'error' in r ? r.error.message : '').to.equal(true);
      if ('message' in r) expect(hex(encodeMessage(r.message))).to.equal(hex(wire));
    });
  }
});
