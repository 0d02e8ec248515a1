/**
 * A device in memory that behaves as the firmware and the host program do (doc/protocol.md): one
 * generation at a time, streamed a token every `stepMs`; HELLO_REQUEST answered at any time; a
 * GENERATE while another runs refused as BUSY (detail: the running request's id); CANCEL of the
 * running request (or 0) ends it with DONE "cancelled". `start()` begins a generation as if an
 * earlier host (a monitor since killed) had asked for it. Its link is a pair of in-memory streams,
 * as a serial port's would be: a new DeviceSession on the same link is a new process on the port.
 */
import { PassThrough } from 'node:stream';
import { decodeFrame, encodeMessage, ErrorCode, FrameDecoder, type Hello, type Message } from '../../src/serial/protocol.js';

export const FAKE_HELLO: Hello = {
  type: 'hello',
  version: 1,
  weights: 'f32',
  weightsCode: 0,
  maxPromptTokens: 8,
  maxFrame: 512,
  modelHash: '0123456789abcdef',
  dim: 64,
  hiddenDim: 172,
  nLayers: 5,
  nHeads: 8,
  nKvHeads: 4,
  vocabSize: 512,
  seqLen: 512,
  groupSize: 0,
  targetName: 'fake',
  modelName: 'fake.bin',
};

export interface FakeDeviceOptions {
  hello?: Hello;
  /** Milliseconds between two tokens. */
  stepMs?: number;
  /** A device that never stops a generation when asked to. */
  ignoresCancel?: boolean;
  /** Sent instead of the HELLO (a frame made by hand: names no encoder would write). */
  rawHello?: Uint8Array;
  /** Answers a GENERATE itself when it returns true (a device that misbehaves). */
  onGenerate?: (m: Extract<Message, { type: 'generate' }>, send: (frame: Message | Uint8Array) => void) => boolean;
}

interface Generation {
  requestId: number;
  steps: number;
  prompt: number[];
  position: number;
  generated: number;
  timer?: NodeJS.Timeout;
}

export class FakeDevice {
  readonly toDevice = new PassThrough();
  readonly fromDevice = new PassThrough();
  readonly link = { fromDevice: this.fromDevice, toDevice: this.toDevice };
  /** Every message the device received, in order. */
  readonly received: Message[] = [];
  private readonly decoder = new FrameDecoder();
  private running?: Generation;
  private readonly hello: Hello;
  private readonly stepMs: number;

  constructor(private readonly options: FakeDeviceOptions = {}) {
    this.hello = options.hello ?? FAKE_HELLO;
    this.stepMs = options.stepMs ?? 5;
    this.toDevice.on('data', (chunk: Buffer) => {
      for (const e of this.decoder.push(chunk)) {
        if (e.kind !== 'frame') continue;
        const r = decodeFrame(e);
        if ('message' in r) {
          this.received.push(r.message);
          this.handle(r.message);
        }
      }
    });
  }

  /**
   * A fresh pair of streams on the device, as SerialConnection.link() gives one per session:
   * ending its writable side (DeviceSession.close) leaves the device listening.
   */
  newLink(): { fromDevice: PassThrough; toDevice: PassThrough } {
    const toDevice = new PassThrough();
    toDevice.on('data', (chunk: Buffer) => this.toDevice.write(chunk));
    const fromDevice = new PassThrough();
    const forward = (chunk: Buffer) => fromDevice.write(chunk);
    this.fromDevice.on('data', forward);
    toDevice.on('finish', () => this.fromDevice.off('data', forward));
    return { fromDevice, toDevice };
  }

  /** The request id of the generation running, if any. */
  get runningId(): number | undefined {
    return this.running?.requestId;
  }

  /** Starts a generation nobody on this link asked for (an earlier host's, still running). */
  start(requestId: number, steps: number, prompt: number[] = [1]): void {
    this.begin({ requestId, steps, prompt, position: 0, generated: 0 });
  }

  /** Stops whatever runs, silently (the end of a test). */
  stop(): void {
    if (this.running?.timer) clearTimeout(this.running.timer);
    this.running = undefined;
  }

  private send(m: Message | Uint8Array): void {
    this.fromDevice.write(m instanceof Uint8Array ? m : encodeMessage(m));
  }

  private handle(m: Message): void {
    if (m.type === 'hello-request') this.send(this.options.rawHello ?? this.hello);
    else if (m.type === 'generate') {
      if (this.options.onGenerate?.(m, (frame) => this.send(frame))) return;
      if (this.running) {
        this.send({
          type: 'error',
          code: ErrorCode.BUSY,
          codeName: 'BUSY',
          requestId: m.requestId,
          detail: this.running.requestId,
          message: '',
        });
        return;
      }
      const steps = m.steps === 0 || m.steps > this.hello.seqLen ? this.hello.seqLen : m.steps;
      this.begin({ requestId: m.requestId, steps, prompt: m.prompt, position: 0, generated: 0 });
    } else if (m.type === 'cancel') {
      const g = this.running;
      if (!g || this.options.ignoresCancel || (m.requestId !== 0 && m.requestId !== g.requestId)) return;
      this.finish(g, 'cancelled', 2);
    }
  }

  private begin(g: Generation): void {
    this.running = g;
    this.send({ type: 'token', requestId: g.requestId, position: 0, token: g.prompt[0], generated: false, stepMicros: 0 });
    this.schedule(g);
  }

  private schedule(g: Generation): void {
    g.timer = setTimeout(() => this.step(g), this.stepMs);
  }

  private step(g: Generation): void {
    if (this.running !== g) return;
    g.position++;
    const fromPrompt = g.position < g.prompt.length;
    const token = fromPrompt ? g.prompt[g.position] : 100 + g.generated;
    if (!fromPrompt) g.generated++;
    this.send({ type: 'token', requestId: g.requestId, position: g.position, token, generated: !fromPrompt, stepMicros: 1000 });
    if (g.position >= g.steps) this.finish(g, 'steps', 0);
    else this.schedule(g);
  }

  private finish(g: Generation, reason: 'steps' | 'cancelled', reasonCode: number): void {
    if (g.timer) clearTimeout(g.timer);
    this.running = undefined;
    this.send({
      type: 'done',
      requestId: g.requestId,
      reason,
      reasonCode,
      positions: g.position,
      generated: g.generated,
      totalMicros: g.position * 1000,
    });
  }
}
