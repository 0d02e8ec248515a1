/**
 * `llama2-embed monitor`'s work, apart from the terminal: connect to a device on a serial port,
 * learn what it runs (its HELLO) and check that against the build here, then generate: tokenize
 * the prompt on the host, send the request, print the tokens as they come (monitor-output.ts).
 *
 *   const monitor = await Monitor.connect({ port: '/dev/ttyACM0', baudRate: 115200, sink, … });
 *   await monitor.generate('Once upon a time', signal);      // aborting the signal cancels
 *   await monitor.close();
 *
 * A device that goes away does not end the monitor: when the port disappears (a USB re-
 * enumeration, a cable, an emulator restarted), it waits a bounded time for it to come back and
 * says so; when the device restarts behind a port that stays (a board reset: it says HELLO unasked
 * and its tokens stop) or falls silent, it resynchronizes. A generation cut short either way is
 * run again with the same seed, and the positions already printed are passed over, so the text
 * reads as if nothing happened.
 */
import { randomBytes } from 'node:crypto';
import { findDeviceBuild, type DeviceBuild } from './device-build.js';
import { GenerationPrinter, type GenerationStats, type MonitorSink } from './monitor-output.js';
import { openRequestedPort, reopenPort, type OpenedPort, type PortRequest, type ReopenOptions } from './port-choice.js';
import type { Hello, TokenMessage } from './protocol.js';
import { DeviceSession, ProtocolTimeoutError, type GenerateRequest, type SessionEvent } from './session.js';
import type { SerialConnection } from './transport.js';
import { printable } from '../util/printable.js';

/** What monitor needs of a connection to a device: a serial port, or a program's stdio (over SSH). */
export type DeviceConnection = Pick<SerialConnection, 'path' | 'isLost' | 'lostReason' | 'lost' | 'link' | 'close'>;

/** A connection that was opened, and how it was described to the user. */
export interface OpenedDevice {
  connection: DeviceConnection;
  description: string;
}

/**
 * How monitor reaches a device that is not on a serial port of this computer (a Raspberry Pi's
 * program over SSH: src/pi/ssh-link.ts): opening, and opening again after the link went away.
 */
export interface DeviceConnector {
  open(): Promise<OpenedDevice>;
  reopen(previous: OpenedDevice, options: ReopenOptions): Promise<OpenedDevice>;
  /** How the link is named in the banner instead of "at <baud> baud" (e.g. "over SSH"). */
  via: string;
}

/** The serial port of `request`, as a connector. */
function serialConnector(request: PortRequest): DeviceConnector {
  return {
    open: () => openRequestedPort(request),
    reopen: (previous, options) => reopenPort(request, previous as OpenedPort, options), // a serial connector's own
    via: `at ${request.baudRate} baud`,
  };
}

export interface MonitorOptions extends PortRequest {
  /** Build directory to check the device against (default: build/<the device's target>/). */
  buildDir?: string;
  /** The tokenizer to decode with (-z), instead of the build's. */
  tokenizer?: string;
  json: boolean;
  timestamp: boolean;
  /** Positions to run, prompt included; 0 = the device's seq_len. */
  steps: number;
  temperature: number;
  topp: number;
  /** Absent: a new random seed for each generation. */
  seed?: bigint;
  sink: MonitorSink;
  /** How long to wait for a port that went away (s, default 30). */
  reconnectSeconds?: number;
  /** How long to wait for the device's HELLO (ms, default 10 000). */
  helloTimeoutMs?: number;
  /** The longest silence during a generation before resynchronizing (ms, default 10 000). */
  responseTimeoutMs?: number;
  /** After an unasked HELLO during a generation, how long to wait for a token before taking it for a restart (ms, default 3000). */
  restartGraceMs?: number;
  /** Reach the device another way than the serial port of `port` (a program over SSH). */
  connector?: DeviceConnector;
}

/** How many times one generation is resumed after the device went away or restarted. */
const MAX_RESUMES = 3;

interface Running {
  requestId?: number;
  restartTimer?: NodeJS.Timeout;
  restarted: boolean;
}

/**
 * Monitor's session with one device, as above: made by `connect`, runs one generation at a time
 * (`generate`), rides out a port that goes away or a device that restarts, and releases the port in `close`.
 */
export class Monitor {
  private opened!: OpenedDevice;
  private readonly connector: DeviceConnector;
  private session!: DeviceSession;
  private running?: Running;
  private closed = false;
  private saidStepsCut = false;
  /** What the device said in its last HELLO. */
  device!: Hello;
  /** The build the device is checked against, and its tokenizer. */
  build!: DeviceBuild;

  private constructor(private readonly options: MonitorOptions) {
    this.connector = options.connector ?? serialConnector(options);
  }

  /** Opens the port, says hello, checks the device against the build; prints a banner. */
  static async connect(options: MonitorOptions): Promise<Monitor> {
    const monitor = new Monitor(options);
    monitor.opened = await monitor.connector.open();
    try {
      await monitor.startSession();
    } catch (err) {
      await monitor.close();
      throw err;
    }
    return monitor;
  }

  /** The port's path. */
  get path(): string {
    return this.opened.connection.path;
  }

  /** The port went away and was not opened again yet. */
  get disconnected(): boolean {
    return this.opened.connection.isLost;
  }

  /** Resolves when the current port goes away. */
  get portLost(): Promise<string> {
    return this.opened.connection.lost;
  }

  /** A line about the device and the build it was checked against. */
  describeDevice(): string {
    const d = this.device;
    const precision = d.weights === 'f32' ? 'f32' : `${d.weights}, group size ${d.groupSize}`;
    const check =
      this.build.hashMatches === true
        ? `, the build in ${this.build.dir}`
        : this.build.hashMatches === false
          ? ', NOT the build here (see above)'
          : '';
    return `${printable(d.targetName)} running ${printable(d.modelName)} (${precision}, seq_len ${d.seqLen}, prompts up to ${d.maxPromptTokens} tokens; model ${d.modelHash}${check})`;
  }

  /**
   * Generates from `prompt` and prints it. Aborting `signal` cancels the generation (the device
   * stops between two positions and says DONE). Resolves with the device's numbers.
   */
  async generate(prompt: string, signal?: AbortSignal): Promise<GenerationStats> {
    if (this.disconnected) await this.reconnect(signal);
    let steps = this.options.steps;
    if (steps > this.device.seqLen) {
      // as run.c: more steps than the context runs the whole context
      if (!this.saidStepsCut)
        this.options.sink.note(
          `-n ${steps} is more than the device's context (seq_len ${this.device.seqLen}): running ${this.device.seqLen} positions.`,
        );
      this.saidStepsCut = true;
      steps = this.device.seqLen;
    }
    const request: GenerateRequest = {
      prompt: this.build.tokenizer.encode(prompt, true, false),
      steps,
      temperature: this.options.temperature,
      topp: this.options.topp,
      seed: this.options.seed ?? randomSeed(), // fixed now, so that a resumed generation gives the same tokens
    };
    const printer = new GenerationPrinter(this.build.tokenizer, this.options.sink, {
      json: this.options.json,
      timestamp: this.options.timestamp,
    });
    let diverged = false;
    const onToken = (t: TokenMessage) => {
      const before = printer.tokenAt(t.position);
      if (before !== undefined && before !== t.token && !diverged) {
        diverged = true;
        this.options.sink.note(
          `\n(the device's tokens after the restart differ from before at position ${t.position}: the text after it is the earlier run's)`,
        );
      }
      printer.token(t);
    };
    for (let resumes = 0; ; resumes++) {
      const running: Running = { restarted: false };
      this.running = running;
      try {
        const done = await this.session.generate(request, onToken, { signal });
        return printer.finish(done, this.device);
      } catch (err) {
        if (signal?.aborted) return printer.finish({ reason: 'cancelled', totalMicros: 0 }, this.device);
        const why = this.interruption(err, running);
        if (why === undefined || resumes >= MAX_RESUMES) throw err;
        this.options.sink.note(`\n(${why} after ${printer.printed} tokens; resuming)`);
        try {
          await this.reconnect(signal);
        } catch (reconnectError) {
          if (signal?.aborted) return printer.finish({ reason: 'cancelled', totalMicros: 0 }, this.device);
          throw reconnectError;
        }
      } finally {
        if (running.restartTimer) clearTimeout(running.restartTimer);
        this.running = undefined;
      }
    }
  }

  /** Closes the session and the port. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.session?.close();
    } catch {
      // already closed
    }
    await this.opened?.connection.close();
  }

  /**
   * Reconnects after the port went away (waiting for it to come back), or resynchronizes with
   * the device behind a port that stayed: a new session, a new HELLO.
   */
  async reconnect(signal?: AbortSignal): Promise<void> {
    const connection = this.opened.connection;
    if (connection.isLost) {
      const seconds = this.options.reconnectSeconds ?? 30;
      this.options.sink.note(
        `${connection.path} went away (${connection.lostReason}); waiting up to ${seconds} s for it to come back (Ctrl+C to stop)…`,
      );
      this.opened = await this.connector.reopen(this.opened, { waitSeconds: seconds, signal });
      this.options.sink.note(`reconnected to ${this.opened.description}`);
    }
    try {
      this.session.close();
    } catch {
      // already closed
    }
    await this.startSession();
  }

  private async startSession(): Promise<void> {
    const previous = this.device;
    this.session = new DeviceSession(this.opened.connection.link(), {
      helloTimeoutMs: this.options.helloTimeoutMs ?? 10_000,
      responseTimeoutMs: this.options.responseTimeoutMs ?? 10_000,
      onEvent: (e) => this.watch(e),
    });
    this.device = await this.session.hello();
    if (previous && previous.modelHash === this.device.modelHash && previous.targetName === this.device.targetName) return;
    this.build = findDeviceBuild(this.device, this.options.buildDir, this.options.tokenizer);
    for (const warning of this.build.warnings) this.options.sink.note(`warning: ${warning}`);
    this.options.sink.note(
      `${previous ? 'now talking to' : 'connected to'} ${this.opened.description} ${this.connector.via}: ${this.describeDevice()}`,
    );
  }

  /**
   * During a generation: a HELLO nobody asked for means the device may have restarted; if no
   * token of the request follows within the grace period, the session is closed, which ends the
   * pending generate() so that it can be resumed.
   */
  private watch(event: SessionEvent): void {
    const running = this.running;
    if (!running) return;
    if (event.kind === 'sent' && event.message.type === 'generate') {
      running.requestId = event.message.requestId;
      return;
    }
    if (event.kind !== 'message') return;
    const m = event.message;
    if (m.type === 'hello' && !running.restartTimer) {
      running.restartTimer = setTimeout(() => {
        running.restarted = true;
        this.session.close();
      }, this.options.restartGraceMs ?? 3000);
    } else if ((m.type === 'token' || m.type === 'done') && m.requestId === running.requestId && running.restartTimer) {
      clearTimeout(running.restartTimer);
      running.restartTimer = undefined;
    }
  }

  /** Why a generation stopped, if it is worth resuming; undefined for errors the user must see. */
  private interruption(err: unknown, running: Running): string | undefined {
    if (this.opened.connection.isLost) return `${this.path} went away`;
    if (running.restarted) return 'the device restarted';
    if (err instanceof ProtocolTimeoutError) return 'the device fell silent';
    return undefined;
  }
}

function randomSeed(): bigint {
  const seed = randomBytes(8).readBigUInt64LE(0) >> 1n; // below 2^63: easy to pass back with -s
  return seed === 0n ? 1n : seed;
}
