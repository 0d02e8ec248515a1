/**
 * `monitor --raw`: a plain serial terminal. The bytes from the port are printed as they come (a
 * firmware built with --embed-tokenizer prints its text), optionally with the time at the start
 * of each line; keys typed are sent to the port. When the port goes away it waits, a bounded
 * time, for it to come back. Ends when `signal` aborts.
 */
import { LineStamper, type MonitorSink } from './monitor-output.js';
import { openRequestedPort, reopenPort, type OpenedPort, type PortRequest } from './port-choice.js';

export interface RawTerminalOptions extends PortRequest {
  sink: MonitorSink;
  timestamp: boolean;
  signal: AbortSignal;
  /** Subscribes to the user's keystrokes (bytes to send); returns an unsubscribe function. */
  keyboard?: (send: (bytes: Uint8Array) => void) => () => void;
  reconnectSeconds?: number;
}

/**
 * Runs the raw terminal until `signal` aborts, then closes the port. Rejects when the port cannot be opened,
 * or does not come back within `reconnectSeconds` (default 30) after it went away.
 */
export async function runRawTerminal(options: RawTerminalOptions): Promise<void> {
  const { sink, signal } = options;
  const stamper = options.timestamp ? new LineStamper() : undefined;
  let opened: OpenedPort = await openRequestedPort(options);
  sink.note(`connected to ${opened.description} at ${options.baudRate} baud (raw: bytes as they come)`);
  for (;;) {
    const connection = opened.connection;
    const stopReading = connection.onData((bytes) => sink.out(stamper ? stamper.bytes(bytes) : bytes));
    const stopTyping = options.keyboard?.((bytes) => void connection.write(bytes).catch(() => {}));
    const aborted = new Promise<void>((resolve) =>
      signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    const lost = await Promise.race([connection.lost.then((why) => why), aborted.then(() => undefined)]);
    stopReading();
    stopTyping?.();
    if (lost === undefined || signal.aborted) {
      await connection.close();
      return;
    }
    const seconds = options.reconnectSeconds ?? 30;
    sink.note(`\n${connection.path} went away (${lost}); waiting up to ${seconds} s for it to come back (Ctrl+C to stop)…`);
    try {
      opened = await reopenPort(options, opened, { waitSeconds: seconds, signal });
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    sink.note(`reconnected to ${opened.description}`);
  }
}
