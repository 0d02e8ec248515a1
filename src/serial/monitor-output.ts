/**
 * What `monitor` prints: the text of the device's tokens as they arrive (decoded on the host, with
 * multi-byte characters put back together), or one JSON object per token; then a summary with the
 * speed the device measured (the microseconds in its TOKEN frames). `--timestamp` puts the time
 * at the start of every line; `--log FILE` copies everything to a file.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { BOS, StreamingDecoder, type Tokenizer } from '../tokenizer/tokenizer.js';
import type { Hello, TokenMessage } from './protocol.js';
import type { GenerateSummary } from './session.js';
import { summaryEventLine, tokenEventLine, type SummaryEvent } from '../util/generation-events.js';
import { printable } from '../util/printable.js';
import { UserError } from '../util/errors.js';

/** Where the monitor's output goes. */
export interface MonitorSink {
  /** The command's output (stdout): text, JSON lines, or raw bytes. */
  out(text: string | Uint8Array): void;
  /** Messages for the user (stderr): the banner, warnings, the summary of a text generation. */
  note(line: string): void;
}

/** stdout and stderr, and a copy of both in `logFile` (appended to) when given. */
export function consoleSink(logFile?: string): MonitorSink & { close(): void } {
  let fd: number | undefined;
  try {
    fd = logFile === undefined ? undefined : openSync(logFile, 'a');
  } catch (err) {
    throw new UserError(
      `--log ${logFile}: cannot open it to append to (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a file you may write, or drop --log.`,
      2,
    );
  }
  // a reader that went away (`monitor | head`) ends the monitor quietly
  process.stdout.once('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  const log = (data: string | Uint8Array) => {
    if (fd !== undefined) writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  };
  return {
    out(data) {
      process.stdout.write(data);
      log(data);
    },
    note(line) {
      process.stderr.write(`${line}\n`);
      log(`${line}\n`);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** The local time as HH:MM:SS.mmm. */
export function clockTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** Puts `[HH:MM:SS.mmm] ` at the start of every line of a stream of text or bytes. */
export class LineStamper {
  private atLineStart = true;

  constructor(private readonly now: () => Date = () => new Date()) {}

  text(text: string): string {
    if (text.length === 0) return text;
    let out = '';
    for (const part of text.split(/(?<=\n)/)) {
      if (this.atLineStart) out += `[${clockTime(this.now())}] `;
      out += part;
      this.atLineStart = part.endsWith('\n');
    }
    return out;
  }

  bytes(bytes: Uint8Array): Uint8Array {
    const parts: Uint8Array[] = [];
    let start = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(0x0a, start);
      const end = newline < 0 ? bytes.length : newline + 1;
      if (this.atLineStart) parts.push(Buffer.from(`[${clockTime(this.now())}] `));
      parts.push(bytes.subarray(start, end));
      this.atLineStart = newline >= 0;
      start = end;
    }
    return Buffer.concat(parts);
  }
}

/** The speed of a generation, from the device's own timing of each position. */
export interface GenerationStats {
  reason: GenerateSummary['reason'];
  /** Forward passes the host saw (TOKENs after position 0). */
  tokens: number;
  /** Of which sampled by the device. */
  generated: number;
  /** Microseconds the device spent on those tokens. */
  deviceMicros: number;
  tokensPerSecond: number;
  microsPerToken: number;
  /** From the GENERATE's arrival to the DONE, as the device measured it. */
  totalMicros: number;
  text: string;
  tokenIds: number[];
}

export interface PrinterOptions {
  json: boolean;
  timestamp: boolean;
  now?: () => Date;
}

/**
 * Prints one generation. Tokens come in position order; a token at a position already printed
 * (a generation replayed after the device restarted) is passed over.
 */
export class GenerationPrinter {
  private readonly decoder: StreamingDecoder;
  private readonly stamper: LineStamper;
  private readonly tokens: TokenMessage[] = [];
  private readonly byPosition = new Map<number, number>();
  private next = 0;
  private text = '';

  constructor(
    tokenizer: Tokenizer,
    private readonly sink: MonitorSink,
    private readonly options: PrinterOptions,
  ) {
    this.decoder = new StreamingDecoder(tokenizer);
    this.stamper = new LineStamper(options.now);
  }

  /** Positions printed so far (the next position expected). */
  get printed(): number {
    return this.next;
  }

  /** The token printed at `position`, if any. */
  tokenAt(position: number): number | undefined {
    return this.byPosition.get(position);
  }

  token(t: TokenMessage): void {
    if (t.position < this.next) return; // printed already (a generation resumed after a restart)
    // (positions come in order: the session refuses a device that skips or repeats one)
    const previous = this.tokens[this.tokens.length - 1];
    this.tokens.push(t);
    this.byPosition.set(t.position, t.token);
    this.next = t.position + 1;
    // as run.c: position 0 is BOS, printed as nothing; a sampled BOS ends the text
    const piece = previous !== undefined && !(t.token === BOS && t.generated) ? this.decoder.push(previous.token, t.token) : '';
    this.text += piece;
    if (this.options.json) {
      const time = this.options.timestamp ? (this.options.now?.() ?? new Date()).toISOString() : undefined;
      this.sink.out(tokenEventLine({ position: t.position, token: t.token, generated: t.generated, text: piece, us: t.stepMicros, time }));
    } else {
      this.sink.out(this.options.timestamp ? this.stamper.text(piece) : piece);
    }
  }

  /** Ends the text and prints the summary; returns the numbers. */
  finish(done: Pick<GenerateSummary, 'reason' | 'totalMicros'>, device: Hello): GenerationStats {
    const rest = this.decoder.flush();
    this.text += rest;
    const stats = generationStats(this.tokens, done, this.text);
    if (this.options.json) {
      const summary: SummaryEvent = {
        reason: stats.reason,
        tokens: stats.tokens,
        generated: stats.generated,
        tokensPerSecond: stats.tokensPerSecond,
        text: stats.text,
        microsPerToken: round(stats.microsPerToken, 1),
        deviceMicros: stats.deviceMicros,
        totalMicros: stats.totalMicros,
        device: {
          target: device.targetName,
          model: device.modelName,
          weights: device.weights,
          seqLen: device.seqLen,
          modelHash: device.modelHash,
        },
      };
      if (this.options.timestamp) summary.time = (this.options.now?.() ?? new Date()).toISOString();
      this.sink.out(summaryEventLine(summary));
    } else {
      const end = `${rest}\n`;
      this.sink.out(this.options.timestamp ? this.stamper.text(end) : end);
      this.sink.note(formatStats(stats, device));
    }
    return stats;
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * The figures of one generation from its TOKEN frames, its DONE and its decoded text. Speed counts forward
 * passes only (tokens after position 0) and the microseconds the device measured for them.
 */
export function generationStats(
  tokens: TokenMessage[],
  done: Pick<GenerateSummary, 'reason' | 'totalMicros'>,
  text: string,
): GenerationStats {
  const steps = tokens.filter((t) => t.position > 0);
  const deviceMicros = steps.reduce((sum, t) => sum + t.stepMicros, 0);
  return {
    reason: done.reason,
    tokens: steps.length,
    generated: steps.filter((t) => t.generated).length,
    deviceMicros,
    tokensPerSecond: deviceMicros > 0 ? (steps.length * 1e6) / deviceMicros : 0,
    microsPerToken: steps.length > 0 ? deviceMicros / steps.length : 0,
    totalMicros: done.totalMicros,
    text,
    tokenIds: tokens.map((t) => t.token),
  };
}

/** The summary line: `12 tokens in 1.84 s on the device: 6.52 tok/s, 153,406 µs per token (rp2040, stories260K.bin q8_0)`. */
export function formatStats(stats: GenerationStats, device: Hello): string {
  const why = {
    steps: '',
    bos: '; the model ended the text',
    cancelled: '; cancelled',
    error: '; the device reported an error',
    unknown: '',
  }[stats.reason];
  return (
    `${stats.tokens} tokens in ${(stats.deviceMicros / 1e6).toFixed(2)} s on the device: ${stats.tokensPerSecond.toFixed(2)} tok/s, ` +
    `${Math.round(stats.microsPerToken).toLocaleString('en-US')} µs per token (${printable(device.targetName)}, ${printable(device.modelName)} ${device.weights})${why}`
  );
}
