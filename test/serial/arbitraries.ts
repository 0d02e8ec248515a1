/** fast-check arbitraries for the serial protocol's messages and streams (shared by the specs). */
import fc from 'fast-check';
import {
  DONE_REASONS,
  errorCodeName,
  FrameDecoder,
  MAX_MODEL_NAME,
  MAX_TARGET_NAME,
  MAX_ERROR_MESSAGE,
  WEIGHTS_CODES,
  type DecoderEvent,
  type Message,
} from '../../src/serial/protocol.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const f32 = fc.float({ noNaN: true });
const ascii = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))), maxLength });

export const helloRequestArb = u8.map((hostVersion): Message => ({ type: 'hello-request', hostVersion }));

export const generateArb = (maxPrompt = 244) =>
  fc
    .record({
      requestId: u16,
      steps: u16,
      temperature: f32,
      topp: f32,
      seed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      prompt: fc.array(u16, { minLength: 1, maxLength: maxPrompt }),
    })
    .map((g): Message => ({ type: 'generate', ...g }));

export const cancelArb = u16.map((requestId): Message => ({ type: 'cancel', requestId }));

export const helloArb = fc
  .record({
    weightsCode: u8,
    maxPromptTokens: u16,
    maxFrame: u16,
    modelHash: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex')),
    dims: fc.array(u32, { minLength: 8, maxLength: 8 }),
    targetName: ascii(MAX_TARGET_NAME),
    modelName: ascii(MAX_MODEL_NAME),
  })
  .map(({ dims, weightsCode, ...h }): Message => {
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, groupSize] = dims;
    const weights = weightsCode < WEIGHTS_CODES.length ? WEIGHTS_CODES[weightsCode] : 'unknown';
    return {
      type: 'hello',
      version: 1,
      weights,
      weightsCode,
      ...h,
      dim,
      hiddenDim,
      nLayers,
      nHeads,
      nKvHeads,
      vocabSize,
      seqLen,
      groupSize,
    };
  });

export const tokenArb = fc
  .record({ requestId: u16, position: u16, token: u16, generated: fc.boolean(), stepMicros: u32 })
  .map((t): Message => ({ type: 'token', ...t }));

export const doneArb = fc
  .record({ requestId: u16, reasonCode: u8, positions: u16, generated: u16, totalMicros: fc.maxSafeNat() })
  .map((d): Message => ({ type: 'done', ...d, reason: d.reasonCode < DONE_REASONS.length ? DONE_REASONS[d.reasonCode] : 'unknown' }));

export const errorArb = fc
  .record({ code: u8, requestId: u16, detail: u32, message: ascii(MAX_ERROR_MESSAGE) })
  .map((e): Message => ({ type: 'error', ...e, codeName: errorCodeName(e.code) }));

export const messageArb = fc.oneof(helloRequestArb, generateArb(), cancelArb, helloArb, tokenArb, doneArb, errorArb);

/** `bytes` cut into chunks at `cuts` (positions, any order, duplicates allowed). */
export function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length ? c % (bytes.length + 1) : 0)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(at, p));
    at = p;
  }
  chunks.push(bytes.subarray(at));
  return chunks;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** All events of a stream fed in the given chunks. */
export function decodeChunks(chunks: Uint8Array[], maxFrame?: number): DecoderEvent[] {
  const decoder = new FrameDecoder(maxFrame);
  return chunks.flatMap((c) => decoder.push(c));
}

/** Floats as the wire carries them (binary32). */
export function asSent(m: Message): Message {
  if (m.type !== 'generate') return m;
  return { ...m, temperature: Math.fround(m.temperature), topp: Math.fround(m.topp) };
}
