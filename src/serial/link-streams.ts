/**
 * The pair of streams a DeviceSession talks through (DeviceLink), over any connection that hands
 * its received bytes to subscribers, writes bytes, and can be lost: a serial port
 * (transport.ts) or a program running over SSH (src/pi/ssh-link.ts). Ending the writable side
 * (as DeviceSession.close does) detaches the pair and leaves the connection open; the readable
 * side ends when detached and is destroyed when the connection is lost.
 */
import { Readable, Writable } from 'node:stream';
import type { DeviceLink } from './session.js';

export interface LinkableConnection {
  /** Calls `listener` with each chunk received; returns an unsubscribe function. */
  onData(listener: (bytes: Buffer) => void): () => void;
  /** Calls `listener` once the connection is lost (soon, if it already is); returns an unsubscribe function. */
  onLost(listener: () => void): () => void;
  /** Writes bytes after those written before; rejects if the connection is gone. */
  write(bytes: Uint8Array): Promise<void>;
}

/**
 * A DeviceLink over `connection`: `fromDevice` gets each chunk it receives, `toDevice` writes to it;
 * ending `toDevice` detaches both and leaves the connection open (see above).
 */
export function linkStreams(connection: LinkableConnection): DeviceLink {
  const fromDevice = new Readable({ read() {} });
  let detached = false;
  const detach = () => {
    if (detached) return;
    detached = true;
    unsubscribe();
    forgetLost();
    fromDevice.push(null);
  };
  const unsubscribe = connection.onData((bytes) => fromDevice.push(bytes));
  const forgetLost = connection.onLost(() => {
    detach();
    fromDevice.destroy();
  });
  const toDevice = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      connection.write(chunk).then(() => done(), done);
    },
    final: (done) => {
      detach();
      done();
    },
  });
  return { fromDevice, toDevice };
}

/** Who to tell when a connection is lost, and why it was: the bookkeeping behind `onLost` and `lost`. */
export class LossWatch {
  private readonly listeners = new Set<(reason: string) => void>();
  private because?: string;
  /** Resolves with the reason once the connection is lost. */
  readonly lost: Promise<string> = new Promise((resolve) => this.listeners.add(resolve));

  get reason(): string | undefined {
    return this.because;
  }

  onLost(listener: () => void): () => void {
    if (this.because !== undefined) {
      queueMicrotask(listener);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records the first reason and tells everyone; later calls change nothing. */
  markLost(reason: string): void {
    if (this.because !== undefined) return;
    this.because = reason;
    for (const listener of [...this.listeners]) listener(reason);
    this.listeners.clear();
  }
}
