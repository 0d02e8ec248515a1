/**
 * The frames of the serial protocol (doc/protocol.md) as typed objects, and their payloads as
 * bytes: every integer little-endian, floats IEEE-754 binary32, token ids u16. This module knows
 * the payload layouts; protocol.ts puts payloads into frames (type byte, CRC, COBS) and back.
 */
import type { QuantScheme } from '../quant/schemes.js';

/** The protocol version this host speaks; the first byte of every HELLO, in every version. */
export const PROTOCOL_VERSION = 1;

/**
 * The largest frame, in decoded bytes (type + payload + CRC), that a device sends, and the
 * default a device accepts. A device says in its HELLO how large a frame it accepts (`maxFrame`).
 */
export const MAX_FRAME = 512;
/** Type byte and CRC. */
export const FRAME_OVERHEAD = 3;

export const FrameType = {
  /** host → device: send a HELLO. */
  HELLO_REQUEST: 0x01,
  /** host → device: generate from a prompt. */
  GENERATE: 0x02,
  /** host → device: stop the running generation. */
  CANCEL: 0x03,
  /** device → host: who the device is and what it runs. */
  HELLO: 0x81,
  /** device → host: one token of the sequence. */
  TOKEN: 0x82,
  /** device → host: the generation ended. */
  DONE: 0x83,
  /** device → host: a frame or a request was refused. */
  ERROR: 0x84,
} as const;

export const ErrorCode = {
  BAD_CRC: 1,
  TRUNCATED: 2,
  OVERSIZED: 3,
  UNKNOWN_TYPE: 4,
  BAD_LENGTH: 5,
  PROMPT_TOO_LONG: 6,
  BAD_PARAMETERS: 7,
  BUSY: 8,
  INTERNAL: 9,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** An ERROR frame's code by name ("BAD_CRC"), or "error N" for a code this host does not know. */
export function errorCodeName(code: number): string {
  const found = (Object.keys(ErrorCode) as ErrorCodeName[]).find((k) => ErrorCode[k] === code);
  return found ?? `error ${code}`;
}

/** What BAD_PARAMETERS's detail says was wrong. */
export const BadParameter = { TEMPERATURE: 1, TOPP: 2, SEED: 3, TOKEN_ID: 4 } as const;

/** HELLO's weights codes: the quantization scheme at each wire code (the index is the code; never reorder). */
export const WEIGHTS_CODES = ['f32', 'q8_0', 'q4_0', 'mixed'] as const satisfies readonly QuantScheme[];

export const DONE_REASONS = ['steps', 'bos', 'cancelled', 'error'] as const;
export type DoneReason = (typeof DONE_REASONS)[number];

/** Bit 0 of a TOKEN's flags: the token was sampled (1), not taken from the prompt (0). */
export const TOKEN_GENERATED = 0x01;

export const MAX_TARGET_NAME = 32;
export const MAX_MODEL_NAME = 64;
export const MAX_ERROR_MESSAGE = 64;
/** Bytes of GENERATE's payload before the prompt. */
export const GENERATE_FIXED = 20;
/** Bytes of HELLO's payload before the target name. */
export const HELLO_FIXED = 47;

export interface HelloRequest {
  type: 'hello-request';
  /** The protocol version of the host (devices of version 1 ignore it). */
  hostVersion: number;
}

export interface Generate {
  type: 'generate';
  /** Chosen by the host, echoed in TOKEN, DONE and ERROR; 0 is reserved for "no request". */
  requestId: number;
  /** Positions to run, prompt included, as llama2.c's -n; 0 = the device's seq_len. */
  steps: number;
  temperature: number;
  topp: number;
  /** Seed of llama2.c's xorshift RNG; never 0. */
  seed: bigint;
  /** Token ids; the first is the one at position 0 (BOS, 1, for llama2.c's models). */
  prompt: number[];
}

export interface Cancel {
  type: 'cancel';
  /** The generation to stop, 0 = whichever is running. */
  requestId: number;
}

export interface Hello {
  type: 'hello';
  version: number;
  weights: QuantScheme | 'unknown';
  weightsCode: number;
  maxPromptTokens: number;
  /** The largest frame the device accepts, decoded bytes (type + payload + CRC). */
  maxFrame: number;
  /** First 8 bytes of the SHA-256 of the weights blob, as 16 hex digits. */
  modelHash: string;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** Values per scale for quantized weights, 0 for f32. */
  groupSize: number;
  targetName: string;
  modelName: string;
}

/** A HELLO of a version this host does not know: only its first byte can be read. */
export interface UnsupportedHello {
  type: 'hello-unsupported';
  version: number;
}

export interface TokenMessage {
  type: 'token';
  requestId: number;
  /** Position of the token in the sequence: the prompt's first token is at 0. */
  position: number;
  token: number;
  /** Sampled by the device (true), or the prompt's token (false). */
  generated: boolean;
  /** Microseconds the device spent on this token (forward pass and sampling); 0 at position 0. */
  stepMicros: number;
}

export interface Done {
  type: 'done';
  requestId: number;
  reason: DoneReason | 'unknown';
  reasonCode: number;
  /** Forward passes run (tokens sent = positions + 1). */
  positions: number;
  /** Tokens sampled (TOKENs with the generated flag). */
  generated: number;
  /** From the GENERATE's arrival to DONE. */
  totalMicros: number;
}

export interface ErrorMessage {
  type: 'error';
  code: number;
  codeName: string;
  /** The request refused, or 0 when the bad frame could not be read. */
  requestId: number;
  detail: number;
  message: string;
}

export type HostMessage = HelloRequest | Generate | Cancel;
export type DeviceMessage = Hello | UnsupportedHello | TokenMessage | Done | ErrorMessage;
export type Message = HostMessage | DeviceMessage;

/** Why a well-framed frame could not be read as a message. */
export interface PayloadError {
  code: typeof ErrorCode.UNKNOWN_TYPE | typeof ErrorCode.BAD_LENGTH;
  detail: number;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Little-endian writing and reading.

class PayloadWriter {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(v: number): this {
    this.view.setUint8(this.at, v);
    this.at += 1;
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.at, v, true);
    this.at += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.at, v, true);
    this.at += 4;
    return this;
  }
  u64(v: bigint): this {
    this.view.setBigUint64(this.at, v, true);
    this.at += 8;
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(this.at, v, true);
    this.at += 4;
    return this;
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.at);
    this.at += b.length;
    return this;
  }
  done(): Uint8Array {
    if (this.at !== this.bytes.length) throw new Error(`payload writer: wrote ${this.at} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}

class PayloadReader {
  private readonly view: DataView;
  at = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(): number {
    return this.view.getUint8(this.at++);
  }
  u16(): number {
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    return v;
  }
  f32(): number {
    const v = this.view.getFloat32(this.at, true);
    this.at += 4;
    return v;
  }
  raw(n: number): Uint8Array {
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
}

function checkUint(name: string, v: number, bits: 8 | 16 | 32): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits)
    throw new RangeError(`${name} must be a whole number from 0 to ${2 ** bits - 1}, got ${v}`);
}

function ascii(name: string, text: string, max: number): Uint8Array {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > max || /[^\x20-\x7e]/.test(text))
    throw new RangeError(`${name} must be at most ${max} printable ASCII characters, got ${JSON.stringify(text)}`);
  return new Uint8Array(bytes);
}

function readAscii(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}

// ---------------------------------------------------------------------------------------------
// Payloads.

/** The type byte and payload of a message (the frame layer adds CRC and COBS). */
export function messagePayload(m: Message): { type: number; payload: Uint8Array } {
  switch (m.type) {
    case 'hello-request':
      checkUint('hostVersion', m.hostVersion, 8);
      return { type: FrameType.HELLO_REQUEST, payload: new PayloadWriter(1).u8(m.hostVersion).done() };
    case 'generate': {
      checkUint('requestId', m.requestId, 16);
      checkUint('steps', m.steps, 16);
      if (m.seed < 0n || m.seed >= 1n << 64n) throw new RangeError(`seed must fit in 64 bits, got ${m.seed}`);
      m.prompt.forEach((id, i) => checkUint(`prompt[${i}]`, id, 16));
      const w = new PayloadWriter(GENERATE_FIXED + 2 * m.prompt.length)
        .u16(m.requestId)
        .u16(m.steps)
        .f32(m.temperature)
        .f32(m.topp)
        .u64(m.seed);
      for (const id of m.prompt) w.u16(id);
      return { type: FrameType.GENERATE, payload: w.done() };
    }
    case 'cancel':
      checkUint('requestId', m.requestId, 16);
      return { type: FrameType.CANCEL, payload: new PayloadWriter(2).u16(m.requestId).done() };
    case 'hello': {
      const target = ascii('targetName', m.targetName, MAX_TARGET_NAME);
      const model = ascii('modelName', m.modelName, MAX_MODEL_NAME);
      if (!/^[0-9a-f]{16}$/.test(m.modelHash)) throw new RangeError(`modelHash must be 16 lowercase hex digits, got ${m.modelHash}`);
      const w = new PayloadWriter(HELLO_FIXED + target.length + model.length)
        .u8(m.version)
        .u8(m.weightsCode)
        .u16(m.maxPromptTokens)
        .u16(m.maxFrame)
        .raw(Buffer.from(m.modelHash, 'hex'));
      for (const v of [m.dim, m.hiddenDim, m.nLayers, m.nHeads, m.nKvHeads, m.vocabSize, m.seqLen, m.groupSize]) w.u32(v);
      return { type: FrameType.HELLO, payload: w.u8(target.length).raw(target).raw(model).done() };
    }
    case 'hello-unsupported':
      return { type: FrameType.HELLO, payload: new PayloadWriter(1).u8(m.version).done() };
    case 'token':
      return {
        type: FrameType.TOKEN,
        payload: new PayloadWriter(11)
          .u16(m.requestId)
          .u16(m.position)
          .u16(m.token)
          .u8(m.generated ? TOKEN_GENERATED : 0)
          .u32(m.stepMicros)
          .done(),
      };
    case 'done':
      return {
        type: FrameType.DONE,
        payload: new PayloadWriter(15)
          .u16(m.requestId)
          .u8(m.reasonCode)
          .u16(m.positions)
          .u16(m.generated)
          .u64(BigInt(m.totalMicros))
          .done(),
      };
    case 'error': {
      const text = ascii('message', m.message, MAX_ERROR_MESSAGE);
      return {
        type: FrameType.ERROR,
        payload: new PayloadWriter(7 + text.length).u8(m.code).u16(m.requestId).u32(m.detail).raw(text).done(),
      };
    }
  }
}

/** The message of a frame's type and payload, or why it cannot be read. */
export function parseMessage(type: number, payload: Uint8Array): { message: Message } | { error: PayloadError } {
  const n = payload.length;
  const badLength = (expected: string) => ({
    error: {
      code: ErrorCode.BAD_LENGTH,
      detail: n,
      message: `${frameTypeName(type)} payload of ${n} bytes, expected ${expected}`,
    } as PayloadError,
  });
  const r = new PayloadReader(payload);
  switch (type) {
    case FrameType.HELLO_REQUEST:
      // Any length: a device answers a request of any version (doc/protocol.md, versions).
      return { message: { type: 'hello-request', hostVersion: n > 0 ? payload[0] : 0 } };
    case FrameType.GENERATE: {
      if (n < GENERATE_FIXED + 2 || (n - GENERATE_FIXED) % 2 !== 0) return badLength(`${GENERATE_FIXED} + 2 × (1 or more prompt tokens)`);
      const m: Generate = {
        type: 'generate',
        requestId: r.u16(),
        steps: r.u16(),
        temperature: r.f32(),
        topp: r.f32(),
        seed: r.u64(),
        prompt: [],
      };
      while (r.at < n) m.prompt.push(r.u16());
      return { message: m };
    }
    case FrameType.CANCEL:
      if (n !== 2) return badLength('2');
      return { message: { type: 'cancel', requestId: r.u16() } };
    case FrameType.HELLO: {
      if (n < 1) return badLength('at least 1');
      const version = r.u8();
      if (version !== PROTOCOL_VERSION) return { message: { type: 'hello-unsupported', version } };
      if (n < HELLO_FIXED) return badLength(`at least ${HELLO_FIXED}`);
      const weightsCode = r.u8();
      const maxPromptTokens = r.u16();
      const maxFrame = r.u16();
      const modelHash = Buffer.from(r.raw(8)).toString('hex');
      const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, groupSize] = Array.from({ length: 8 }, () => r.u32());
      const targetLength = r.u8();
      if (targetLength > MAX_TARGET_NAME || n < HELLO_FIXED + targetLength || n - HELLO_FIXED - targetLength > MAX_MODEL_NAME) {
        return badLength(`${HELLO_FIXED} + target name (at most ${MAX_TARGET_NAME}) + model name (at most ${MAX_MODEL_NAME})`);
      }
      const targetName = readAscii(r.raw(targetLength));
      const modelName = readAscii(r.raw(n - r.at));
      const weights = weightsCode < WEIGHTS_CODES.length ? WEIGHTS_CODES[weightsCode] : 'unknown';
      return {
        message: {
          type: 'hello',
          version,
          weights,
          weightsCode,
          maxPromptTokens,
          maxFrame,
          modelHash,
          dim,
          hiddenDim,
          nLayers,
          nHeads,
          nKvHeads,
          vocabSize,
          seqLen,
          groupSize,
          targetName,
          modelName,
        },
      };
    }
    case FrameType.TOKEN: {
      if (n !== 11) return badLength('11');
      const requestId = r.u16();
      const position = r.u16();
      const token = r.u16();
      const flags = r.u8();
      return { message: { type: 'token', requestId, position, token, generated: (flags & TOKEN_GENERATED) !== 0, stepMicros: r.u32() } };
    }
    case FrameType.DONE: {
      if (n !== 15) return badLength('15');
      const requestId = r.u16();
      const reasonCode = r.u8();
      const positions = r.u16();
      const generated = r.u16();
      const totalMicros = Number(r.u64());
      const reason = reasonCode < DONE_REASONS.length ? DONE_REASONS[reasonCode] : 'unknown';
      return { message: { type: 'done', requestId, reason, reasonCode, positions, generated, totalMicros } };
    }
    case FrameType.ERROR: {
      if (n < 7 || n > 7 + MAX_ERROR_MESSAGE) return badLength(`7 to ${7 + MAX_ERROR_MESSAGE}`);
      const code = r.u8();
      const requestId = r.u16();
      const detail = r.u32();
      return { message: { type: 'error', code, codeName: errorCodeName(code), requestId, detail, message: readAscii(r.raw(n - 7)) } };
    }
    default:
      return {
        error: { code: ErrorCode.UNKNOWN_TYPE, detail: type, message: `unknown frame type 0x${type.toString(16).padStart(2, '0')}` },
      };
  }
}

/** A frame type by name ("HELLO"), or "type 0xNN" for a type this host does not know. */
export function frameTypeName(type: number): string {
  const names: Record<number, string> = {
    [FrameType.HELLO_REQUEST]: 'HELLO_REQUEST',
    [FrameType.GENERATE]: 'GENERATE',
    [FrameType.CANCEL]: 'CANCEL',
    [FrameType.HELLO]: 'HELLO',
    [FrameType.TOKEN]: 'TOKEN',
    [FrameType.DONE]: 'DONE',
    [FrameType.ERROR]: 'ERROR',
  };
  return names[type] ?? `type 0x${type.toString(16).padStart(2, '0')}`;
}

/** What a device accepts, from its HELLO. */
export interface GenerateLimits {
  maxPromptTokens: number;
  vocabSize: number;
}

/**
 * Checks a GENERATE the way a device does (protocol.c `protocol_parse_generate`), so that the
 * host can refuse it with a clear message before sending. Undefined when the device would accept it.
 */
export function checkGenerate(g: Generate, limits: GenerateLimits): { code: number; detail: number; message: string } | undefined {
  if (g.prompt.length > limits.maxPromptTokens) {
    return {
      code: ErrorCode.PROMPT_TOO_LONG,
      detail: limits.maxPromptTokens,
      message: `the prompt has ${g.prompt.length} tokens; the device accepts at most ${limits.maxPromptTokens}`,
    };
  }
  const t = Math.fround(g.temperature);
  const p = Math.fround(g.topp);
  if (!Number.isFinite(t) || t < 0)
    return {
      code: ErrorCode.BAD_PARAMETERS,
      detail: BadParameter.TEMPERATURE,
      message: `temperature must be a finite number >= 0, got ${g.temperature}`,
    };
  if (!(p >= 0 && p <= 1))
    return { code: ErrorCode.BAD_PARAMETERS, detail: BadParameter.TOPP, message: `top-p must be from 0 to 1, got ${g.topp}` };
  if (g.seed === 0n)
    return { code: ErrorCode.BAD_PARAMETERS, detail: BadParameter.SEED, message: 'the seed must not be 0 (the RNG would stay at 0)' };
  const bad = g.prompt.findIndex((id) => id >= limits.vocabSize);
  if (bad >= 0)
    return {
      code: ErrorCode.BAD_PARAMETERS,
      detail: BadParameter.TOKEN_ID,
      message: `prompt token ${bad} is ${g.prompt[bad]}, not below the vocabulary size ${limits.vocabSize}`,
    };
  return undefined;
}
