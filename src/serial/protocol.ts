/**
 * The frame layer of the serial protocol (doc/protocol.md): a frame is a type byte, a payload and
 * the CRC-16/CCITT-FALSE of both (little-endian), COBS-encoded and followed by a 0x00 delimiter.
 *
 * `FrameDecoder` takes the byte stream in chunks split anywhere, with garbage, cut frames and
 * device resets in between, and returns what it found: frames, and errors for the bad ones. It
 * never throws on input and resynchronizes at the next 0x00. It follows the device's decoder
 * (templates/common/protocol.c) byte for byte, so that both report the same errors.
 */
import { cobsEncode } from './cobs.js';
import { crc16 } from './crc.js';
import { ErrorCode, FRAME_OVERHEAD, MAX_FRAME, messagePayload, parseMessage, type Message, type PayloadError } from './frames.js';

export * from './frames.js';
export { cobsDecode, cobsEncode } from './cobs.js';
export { crc16 } from './crc.js';

export const DELIMITER = 0x00;

/** A well-formed frame (the CRC matched). */
export interface FrameEvent {
  kind: 'frame';
  type: number;
  payload: Uint8Array;
}

/** Bytes between two delimiters that are not a frame. */
export interface FrameErrorEvent {
  kind: 'error';
  code: typeof ErrorCode.BAD_CRC | typeof ErrorCode.TRUNCATED | typeof ErrorCode.OVERSIZED;
  /** How many encoded bytes were thrown away (saturating at 2^32 - 1), as the device reports it. */
  detail: number;
  message: string;
}

export type DecoderEvent = FrameEvent | FrameErrorEvent;

/** The bytes on the wire for a frame: COBS(type, payload, CRC) then 0x00. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`frame type must be a byte, got ${type}`);
  const frame = new Uint8Array(payload.length + FRAME_OVERHEAD);
  frame[0] = type;
  frame.set(payload, 1);
  const crc = crc16(frame, undefined, 0, payload.length + 1);
  frame[payload.length + 1] = crc & 0xff;
  frame[payload.length + 2] = crc >> 8;
  const encoded = cobsEncode(frame);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  out[encoded.length] = DELIMITER;
  return out;
}

/** The bytes on the wire for a message. */
export function encodeMessage(m: Message): Uint8Array {
  const { type, payload } = messagePayload(m);
  return encodeFrame(type, payload);
}

/** A frame read as a message, or the payload error (unknown type, wrong length). */
export function decodeFrame(frame: FrameEvent): { message: Message } | { error: PayloadError } {
  return parseMessage(frame.type, frame.payload);
}

/**
 * Streaming decoder: feed it chunks with `push`; each call returns the frames and errors
 * completed by that chunk. A frame may be split across any number of chunks.
 *
 * State, as in protocol.c: the decoded bytes so far, how many data bytes remain in the current
 * COBS block (0: the next byte is a code byte), whether the previous block implies a 0x00, and
 * whether the frame has outgrown `maxFrame` (then everything up to the next delimiter is dropped).
 */
export class FrameDecoder {
  private readonly buffer: Uint8Array;
  private length = 0;
  private blockLeft = 0;
  private previousShort = false;
  private overflow = false;
  /** Encoded bytes since the last delimiter. */
  private raw = 0;

  constructor(readonly maxFrame = MAX_FRAME) {
    if (!Number.isInteger(maxFrame) || maxFrame < FRAME_OVERHEAD || maxFrame > 0xffff)
      throw new RangeError(`maxFrame must be from ${FRAME_OVERHEAD} to 65535, got ${maxFrame}`);
    this.buffer = new Uint8Array(maxFrame);
  }

  /** Bytes received since the last delimiter (a frame in progress, or garbage). */
  get pending(): number {
    return this.raw;
  }

  push(chunk: Uint8Array): DecoderEvent[] {
    const events: DecoderEvent[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const event = this.byte(chunk[i]);
      if (event) events.push(event);
    }
    return events;
  }

  /** The stream ended: a frame in progress is reported as cut short. */
  end(): DecoderEvent[] {
    if (this.raw === 0) return [];
    const detail = this.raw;
    this.reset();
    return [
      {
        kind: 'error',
        code: ErrorCode.TRUNCATED,
        detail,
        message: `the stream ended inside a frame (${detail} bytes after the last delimiter)`,
      },
    ];
  }

  /** One byte; the event it completes, if any. */
  byte(b: number): DecoderEvent | undefined {
    if (b !== DELIMITER) {
      if (this.raw < 0xffffffff) this.raw++;
      if (this.overflow) return undefined;
      if (this.blockLeft === 0) {
        // a code byte: the block before it, unless full, ended with a zero
        if (this.raw > 1 && this.previousShort) this.append(0);
        this.previousShort = b !== 0xff;
        this.blockLeft = b - 1;
      } else {
        this.append(b);
        this.blockLeft--;
      }
      return undefined;
    }
    if (this.raw === 0) return undefined; // delimiters between frames
    const event = this.finish();
    this.reset();
    return event;
  }

  private append(b: number): void {
    if (this.length === this.maxFrame) this.overflow = true;
    else this.buffer[this.length++] = b;
  }

  private finish(): DecoderEvent {
    const detail = this.raw;
    if (this.overflow) {
      return {
        kind: 'error',
        code: ErrorCode.OVERSIZED,
        detail,
        message: `a frame of ${detail} encoded bytes, more than the ${this.maxFrame} decoded bytes allowed`,
      };
    }
    if (this.blockLeft !== 0) {
      return {
        kind: 'error',
        code: ErrorCode.TRUNCATED,
        detail,
        message: `a frame cut short (${detail} bytes, ${this.blockLeft} missing from its last block)`,
      };
    }
    if (this.length < FRAME_OVERHEAD) {
      return {
        kind: 'error',
        code: ErrorCode.TRUNCATED,
        detail,
        message: `a frame of ${this.length} bytes, shorter than a type byte and a CRC`,
      };
    }
    const end = this.length - 2;
    const expected = this.buffer[end] | (this.buffer[end + 1] << 8);
    const actual = crc16(this.buffer, undefined, 0, end);
    if (actual !== expected) {
      return {
        kind: 'error',
        code: ErrorCode.BAD_CRC,
        detail,
        message: `CRC mismatch: the frame says 0x${hex4(expected)}, its bytes give 0x${hex4(actual)}`,
      };
    }
    return { kind: 'frame', type: this.buffer[0], payload: this.buffer.slice(1, end) };
  }

  private reset(): void {
    this.length = 0;
    this.blockLeft = 0;
    this.previousShort = false;
    this.overflow = false;
    this.raw = 0;
  }
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}
