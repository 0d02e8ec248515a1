/**
 * The host's side of a conversation with a device over any byte stream: a child process's
 * stdin/stdout (the host program in --protocol mode), a serial port, a pty bridged to an
 * emulator, a Raspberry Pi's stdio over SSH. See doc/protocol.md.
 *
 * `hello()` finds the device (HELLO_REQUEST until a valid HELLO, whatever garbage comes first);
 * `generate()` sends a GENERATE and streams its tokens until DONE. Nothing waits forever: a
 * silent device, or one that stops mid-generation, fails with a timeout that says so.
 */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../util/errors.js';
import { printable } from '../util/printable.js';
import {
  checkGenerate,
  DELIMITER,
  decodeFrame,
  encodeMessage,
  errorCodeName,
  FrameDecoder,
  MAX_FRAME,
  PROTOCOL_VERSION,
  type DeviceMessage,
  type Done,
  type ErrorMessage,
  type Generate,
  type Hello,
  type Message,
  type TokenMessage,
  ErrorCode,
} from './protocol.js';

/** The two directions of the link, as the host sees them. */
export interface DeviceLink {
  fromDevice: Readable;
  toDevice: Writable;
}

/** What the session saw on the wire, for logs and monitors. */
export type SessionEvent =
  | { kind: 'message'; message: Message }
  | { kind: 'bad-frame'; code: number; codeName: string; detail: number; description: string }
  | { kind: 'sent'; message: Message };

export interface SessionOptions {
  /** How long `hello()` tries before giving up (ms). */
  helloTimeoutMs?: number;
  /** How often `hello()` repeats its HELLO_REQUEST (ms). */
  helloRetryMs?: number;
  /** The longest silence allowed while a generation runs (ms): the slowest step, plus margin. */
  responseTimeoutMs?: number;
  /**
   * How many times a GENERATE answered BUSY (the device still runs another host's request: a
   * monitor that was killed) is sent again, each time after a CANCEL of that request.
   */
  busyRetries?: number;
  /** The id of the first request (default: a random one, so that two processes do not collide). */
  firstRequestId?: number;
  onEvent?: (event: SessionEvent) => void;
}

export interface GenerateRequest {
  /** Token ids, BOS first for llama2.c's models (the host tokenizes). */
  prompt: number[];
  /** Positions to run, prompt included (llama2.c's -n); 0 or absent = the device's seq_len. */
  steps?: number;
  /** 0 = greedy. */
  temperature: number;
  topp: number;
  /** Never 0; absent = a random one. */
  seed?: number | bigint;
}

export interface GenerateOptions {
  /** Aborting sends CANCEL; `generate` then resolves with the DONE (reason "cancelled"). */
  signal?: AbortSignal;
}

export interface GenerateSummary {
  requestId: number;
  reason: Done['reason'];
  positions: number;
  generated: number;
  totalMicros: number;
  /** TOKEN frames received; positions + 1 unless some were lost on the wire. */
  tokensReceived: number;
}

/** The device refused a request or could not read it (its ERROR frame). */
export class DeviceError extends UserError {
  constructor(
    readonly error: ErrorMessage,
    context: string,
  ) {
    super(
      `${context}: the device answered ${error.codeName} (detail ${error.detail})${error.message ? `: ${printable(error.message)}` : ''}.`,
    );
    this.name = 'DeviceError';
  }
}

/**
 * The device kept answering BUSY: another request (another program's, or a monitor's that was
 * stopped) runs on it and did not stop when cancelled.
 */
export class DeviceBusyError extends UserError {
  constructor(
    readonly runningRequestId: number,
    attempts: number,
    seconds: number,
  ) {
    super(
      `the device is busy with another request (id ${runningRequestId}, not this monitor's): it answered BUSY to ${attempts} GENERATEs over ${seconds.toFixed(1)} s ` +
        'and did not stop when asked to cancel that request. Another program may be using the device: close it (another monitor, a serial terminal), ' +
        'or reset the board (unplug it and plug it in again), then try again.',
    );
    this.name = 'DeviceBusyError';
  }
}

/** The device broke the protocol during a request: tokens out of order, more than asked for, a DONE that does not add up. */
export class DeviceProtocolError extends UserError {
  constructor(what: string) {
    super(
      `${what}. The device does not follow the protocol (doc/protocol.md): check that its firmware was built by this llama2-embed ` +
        '(flash it again), and reset the board.',
    );
    this.name = 'DeviceProtocolError';
  }
}

/** No answer in time. */
export class ProtocolTimeoutError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolTimeoutError';
  }
}

/** The device speaks a protocol version this host does not. */
export class ProtocolVersionError extends UserError {
  constructor(readonly deviceVersion: number) {
    super(
      `the device speaks protocol version ${deviceVersion}, but this llama2-embed speaks version ${PROTOCOL_VERSION}: ` +
        (deviceVersion > PROTOCOL_VERSION ? 'update llama2-embed' : 'rebuild and flash the firmware with this llama2-embed') +
        ' so that both sides agree.',
    );
    this.name = 'ProtocolVersionError';
  }
}

type InboxItem = { kind: 'message'; message: Message } | { kind: 'bad-frame'; code: number; description: string };

class Deadline extends Error {}

/**
 * The host's side of the protocol over `link`: `hello`, `generate` and `waitFor`, one at a time (a second
 * concurrent call throws). Failures a user can act on are UserErrors: timeouts, a busy device, protocol errors.
 */
export class DeviceSession {
  private readonly decoder = new FrameDecoder(MAX_FRAME);
  private inbox: InboxItem[] = [];
  private wake?: () => void;
  private closedBecause?: string;
  private nextRequestId: number;
  /** Request ids seen on the wire that are not this session's (an earlier host's): never reused. */
  private readonly foreignIds = new Set<number>();
  private readonly ownIds = new Set<number>();
  private busy = false;
  private readonly options: Required<Omit<SessionOptions, 'onEvent'>> & Pick<SessionOptions, 'onEvent'>;
  private readonly detach: () => void;
  /** The last HELLO received. */
  device?: Hello;

  constructor(
    private readonly link: DeviceLink,
    options: SessionOptions = {},
  ) {
    this.options = {
      helloTimeoutMs: 5000,
      helloRetryMs: 500,
      responseTimeoutMs: 30_000,
      busyRetries: 3,
      firstRequestId: randomRequestId(),
      ...options,
    };
    this.nextRequestId = this.options.firstRequestId;
    const onData = (chunk: Buffer | string) => this.receive(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    const onEnd = () => this.closed('the device closed the connection');
    const onReadError = (err: Error) => this.closed(`reading from the device failed: ${err.message}`);
    const onWriteError = (err: Error) => this.closed(`writing to the device failed: ${err.message}`);
    link.fromDevice.on('data', onData);
    link.fromDevice.on('end', onEnd);
    link.fromDevice.on('close', onEnd);
    link.fromDevice.on('error', onReadError);
    link.toDevice.on('error', onWriteError);
    this.detach = () => {
      link.fromDevice.off('data', onData);
      link.fromDevice.off('end', onEnd);
      link.fromDevice.off('close', onEnd);
      link.fromDevice.off('error', onReadError);
      // the write side's error listener stays: a late EPIPE must not become an uncaught exception
    };
  }

  /** Asks the device who it is, until it answers with a valid HELLO (ignoring anything else). */
  async hello(): Promise<Hello> {
    return this.exclusive(async () => {
      const { helloTimeoutMs, helloRetryMs } = this.options;
      const deadline = Date.now() + helloTimeoutMs;
      this.inbox = [];
      let requests = 0;
      let ignored = 0;
      let bad = 0;
      const request = () => {
        requests++;
        // a lone delimiter first ends whatever partial frame the device's decoder holds
        this.sendRaw(Uint8Array.of(DELIMITER));
        this.send({ type: 'hello-request', hostVersion: PROTOCOL_VERSION });
      };
      request();
      let retryAt = Date.now() + helloRetryMs;
      for (;;) {
        let item: InboxItem;
        try {
          item = await this.next(Math.min(deadline, retryAt));
        } catch (err) {
          if (!(err instanceof Deadline)) throw err;
          if (Date.now() >= deadline) {
            throw new ProtocolTimeoutError(
              `no HELLO from the device within ${(helloTimeoutMs / 1000).toFixed(1)} s (${requests} HELLO_REQUESTs sent; ` +
                `received ${ignored} other frames and ${bad} bad ones). Is the device running a llama2-embed program ` +
                `in protocol mode, on this port, at the right speed?`,
            );
          }
          request();
          retryAt = Date.now() + helloRetryMs;
          continue;
        }
        if (item.kind === 'bad-frame') bad++;
        else if (item.message.type === 'hello') return (this.device = item.message);
        else if (item.message.type === 'hello-unsupported') throw new ProtocolVersionError(item.message.version);
        else ignored++;
      }
    });
  }

  /**
   * Generates on the device: sends a GENERATE, calls `onToken` for each TOKEN of this request
   * (prompt tokens first, then sampled ones), and resolves with the DONE. Rejects with a
   * DeviceError if the device refuses the request, a ProtocolTimeoutError if it falls silent.
   */
  async generate(
    req: GenerateRequest,
    onToken: (token: TokenMessage) => void = () => {},
    options: GenerateOptions = {},
  ): Promise<GenerateSummary> {
    const device = this.device ?? (await this.hello());
    return this.exclusive(async () => {
      const requestId = this.takeRequestId();
      const g: Generate = {
        type: 'generate',
        requestId,
        steps: req.steps ?? 0,
        temperature: req.temperature,
        topp: req.topp,
        seed: req.seed === undefined ? randomSeed() : BigInt(req.seed),
        prompt: req.prompt,
      };
      if (!Number.isInteger(g.steps) || g.steps < 0 || g.steps > 0xffff)
        throw new UserError(`steps must be a whole number from 0 to 65535, got ${g.steps}.`);
      if (g.prompt.length === 0) throw new UserError('the prompt must have at least one token (BOS, 1, for llama2.c models).');
      if (g.seed < 0n || g.seed >= 1n << 64n) throw new UserError(`the seed must fit in 64 bits, got ${g.seed}.`);
      const problem = checkGenerate(g, device);
      if (problem) throw new UserError(`cannot send this request to the device: ${problem.message}.`);
      // the last position the device may send: as the device reads `steps` (doc/protocol.md)
      const lastPosition = g.steps === 0 || g.steps > device.seqLen ? device.seqLen : g.steps;

      this.inbox = []; // anything before this request is stale
      this.send(g);
      const started = Date.now();
      let cancelled = false;
      const cancel = () => {
        if (cancelled || this.closedBecause) return;
        cancelled = true;
        this.send({ type: 'cancel', requestId });
      };
      /** Stops our request on the device (it may run on) and fails. */
      const broken = (what: string): never => {
        if (!this.closedBecause) this.send({ type: 'cancel', requestId });
        throw new DeviceProtocolError(`${what} (request ${requestId}, ${lastPosition} steps asked for)`);
      };
      options.signal?.addEventListener('abort', cancel);
      if (options.signal?.aborted) cancel();
      try {
        let received = 0;
        let busyAnswers = 0;
        /** Another host's request the device runs, which we asked it to cancel: GENERATE again after its DONE. */
        let stopping: number | undefined;
        let deadline = Date.now() + this.options.responseTimeoutMs;
        for (;;) {
          let item: InboxItem;
          try {
            item = await this.next(deadline);
          } catch (err) {
            if (!(err instanceof Deadline)) throw err;
            if (stopping !== undefined) {
              // no DONE for the cancelled request: ask again (the device answers BUSY if it still runs)
              stopping = undefined;
              this.send(g);
              deadline = Date.now() + this.options.responseTimeoutMs;
              continue;
            }
            throw new ProtocolTimeoutError(
              `the device sent nothing for ${(this.options.responseTimeoutMs / 1000).toFixed(1)} s ` +
                `${received === 0 ? 'after the GENERATE' : `after ${received} tokens`} (request ${requestId}). ` +
                'It may have reset or hung; hello() resynchronizes.',
            );
          }
          if (item.kind !== 'message') continue;
          const m = item.message;
          if (m.type === 'token' && m.requestId === requestId) {
            if (m.position !== received) {
              broken(
                m.position < received
                  ? `the device sent position ${m.position} again, after ${received - 1}`
                  : `the device skipped from position ${received - 1} to ${m.position} (positions ${received} to ${m.position - 1} never arrived)`,
              );
            }
            if (m.position > lastPosition)
              broken(`the device sent a token at position ${m.position}, beyond the last position asked for, ${lastPosition}`);
            received++;
            deadline = Date.now() + this.options.responseTimeoutMs;
            onToken(m);
          } else if (m.type === 'done' && m.requestId === requestId) {
            if (received === 0) broken('the device said DONE without sending any token');
            if (m.positions + 1 !== received)
              broken(`the device said DONE after ${m.positions} positions, but sent ${received} tokens (positions 0 to ${received - 1})`);
            return {
              requestId,
              reason: m.reason,
              positions: m.positions,
              generated: m.generated,
              totalMicros: m.totalMicros,
              tokensReceived: received,
            };
          } else if (m.type === 'done' && stopping !== undefined && m.requestId === stopping) {
            stopping = undefined;
            this.send(g);
            deadline = Date.now() + this.options.responseTimeoutMs;
          } else if (m.type === 'error' && m.requestId === requestId && m.code === ErrorCode.BUSY && received === 0 && !cancelled) {
            busyAnswers++;
            this.foreignIds.add(m.detail);
            if (busyAnswers > this.options.busyRetries) throw new DeviceBusyError(m.detail, busyAnswers, (Date.now() - started) / 1000);
            // the device still runs another host's request (a monitor that was killed): stop it, then ask again
            stopping = m.detail;
            this.send({ type: 'cancel', requestId: m.detail });
            deadline = Date.now() + this.options.responseTimeoutMs;
          } else if (m.type === 'error' && m.requestId === requestId) {
            throw new DeviceError(m, `request ${requestId} refused`);
          } else if (m.type === 'error' && m.requestId === 0 && received === 0) {
            // the device could not read a frame before starting: most likely our GENERATE
            throw new DeviceError(m, `request ${requestId} not understood by the device`);
          } else if (m.type === 'hello-unsupported') {
            throw new ProtocolVersionError(m.version);
          }
        }
      } finally {
        options.signal?.removeEventListener('abort', cancel);
      }
    });
  }

  /** A request id of this session: never 0, never one seen from another host. */
  private takeRequestId(): number {
    let id = this.nextRequestId;
    while (id === 0 || this.foreignIds.has(id)) id = (id % 0xffff) + 1;
    this.nextRequestId = (id % 0xffff) + 1;
    this.ownIds.add(id);
    return id;
  }

  /** Asks the device to stop a generation (0 = whichever is running). */
  cancel(requestId = 0): void {
    this.send({ type: 'cancel', requestId });
  }

  /** Waits for the next device message satisfying `predicate`, passing over others (and bad frames). */
  async waitFor<T extends DeviceMessage>(predicate: (m: Message) => m is T, timeoutMs: number): Promise<T>;
  async waitFor(predicate: (m: Message) => boolean, timeoutMs: number): Promise<Message>;
  async waitFor(predicate: (m: Message) => boolean, timeoutMs: number): Promise<Message> {
    return this.exclusive(async () => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let item: InboxItem;
        try {
          item = await this.next(deadline);
        } catch (err) {
          if (err instanceof Deadline)
            throw new ProtocolTimeoutError(`no matching frame from the device within ${(timeoutMs / 1000).toFixed(1)} s.`);
          throw err;
        }
        if (item.kind === 'message' && predicate(item.message)) return item.message;
      }
    });
  }

  /** Sends a message as one frame. */
  send(m: Message): void {
    this.sendRaw(encodeMessage(m));
    this.options.onEvent?.({ kind: 'sent', message: m });
  }

  /** Sends bytes as they are (tests: corrupted frames; a lone delimiter). */
  sendRaw(bytes: Uint8Array): void {
    if (this.closedBecause) throw new UserError(`cannot write to the device: ${this.closedBecause}.`);
    this.link.toDevice.write(bytes);
  }

  /** Ends the host's side of the link (a child process sees its stdin close) and stops listening. */
  close(): void {
    this.detach();
    this.link.toDevice.end();
    this.closed('the session was closed');
  }

  private receive(chunk: Uint8Array): void {
    for (const event of this.decoder.push(chunk)) {
      if (event.kind === 'error') {
        this.deliver({ kind: 'bad-frame', code: event.code, description: event.message });
        this.options.onEvent?.({
          kind: 'bad-frame',
          code: event.code,
          codeName: errorCodeName(event.code),
          detail: event.detail,
          description: event.message,
        });
        continue;
      }
      const decoded = decodeFrame(event);
      if ('error' in decoded) {
        const e = decoded.error;
        this.deliver({ kind: 'bad-frame', code: e.code, description: e.message });
        this.options.onEvent?.({
          kind: 'bad-frame',
          code: e.code,
          codeName: errorCodeName(e.code),
          detail: e.detail,
          description: e.message,
        });
        continue;
      }
      const m = decoded.message;
      if (
        (m.type === 'token' || m.type === 'done' || m.type === 'error') &&
        m.requestId !== 0 &&
        !this.ownIds.has(m.requestId) &&
        this.foreignIds.size < 4096
      ) {
        this.foreignIds.add(m.requestId);
      }
      this.deliver({ kind: 'message', message: m });
      this.options.onEvent?.({ kind: 'message', message: m });
    }
  }

  private deliver(item: InboxItem): void {
    this.inbox.push(item);
    if (this.inbox.length > 4096) this.inbox.shift(); // nobody is reading: keep the latest
    this.wake?.();
  }

  private closed(reason: string): void {
    if (this.closedBecause) return;
    this.closedBecause = reason;
    this.wake?.();
  }

  /** The next item, or throws Deadline at `deadline`, or a UserError once the link is closed. */
  private async next(deadline: number): Promise<InboxItem> {
    for (;;) {
      const item = this.inbox.shift();
      if (item) return item;
      if (this.closedBecause) throw new UserError(`${this.closedBecause}${this.device ? '' : ' before saying HELLO'}.`);
      const wait = deadline - Date.now();
      if (wait <= 0) throw new Deadline();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }

  /** One conversation at a time: the protocol has one request in flight. */
  private async exclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.busy) throw new Error('DeviceSession: one request at a time (await the previous hello/generate/waitFor first)');
    this.busy = true;
    try {
      return await run();
    } finally {
      this.busy = false;
    }
  }
}

/** A request id from 1 to 65535, different in each process (doc/protocol.md: GENERATE's request_id). */
function randomRequestId(): number {
  return 1 + (randomBytes(2).readUInt16LE(0) % 0xffff);
}

function randomSeed(): bigint {
  const seed = randomBytes(8).readBigUInt64LE(0);
  return seed === 0n ? 1n : seed;
}
