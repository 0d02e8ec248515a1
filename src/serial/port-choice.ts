/**
 * Opening the port the user asked for (`--port PATH`, or `auto`: detected), and opening it again
 * after it went away (a board reset that re-enumerates its USB port, a cable pulled and plugged
 * back, an emulator restarted): a bounded wait, polling, that also finds the board again under
 * another name when it was detected.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { candidatePorts, describePort, detectPort, systemPortLister, type ChoosePort, type ListPorts } from './ports.js';
import { SerialConnection, type SerialBinding } from './transport.js';

/** Never opened by monitor: opening a Pico's USB port at 1200 baud reboots it into BOOTSEL. */
export const BOOTSEL_BAUD = 1200;

export interface PortRequest {
  /** A path, or `auto` (or absent): detect the board. */
  port?: string;
  baudRate: number;
  listPorts?: ListPorts;
  /** Asks the user when several ports could be the board (absent: that is an error). */
  choosePort?: ChoosePort;
  binding?: SerialBinding;
}

/** The port that was opened, and what identifies the board behind it. */
export interface OpenedPort {
  connection: SerialConnection;
  /** How it was described to the user. */
  description: string;
  serialNumber?: string;
}

/** Refuses the baud rate that would reboot a Pico into its boot loader, and nonsense. */
export function checkBaudRate(baudRate: number): void {
  if (baudRate === BOOTSEL_BAUD) {
    throw new UserError(
      "--baud 1200 is refused: opening a Raspberry Pi Pico's USB port at 1200 baud is the signal that reboots it into its BOOTSEL drive. " +
        'The firmware talks at 115200 baud (the default); to put a board into BOOTSEL on purpose, use llama2-embed flash.',
      2,
    );
  }
  if (!Number.isInteger(baudRate) || baudRate < 50 || baudRate > 16_000_000)
    throw new UserError(`--baud must be a whole number of bits per second (115200 for our firmware), got ${baudRate}.`, 2);
}

function isAuto(request: PortRequest): boolean {
  return request.port === undefined || request.port === 'auto';
}

/** Opens the requested port, detecting the board for `auto`. Fails with a message that says what to do. */
export async function openRequestedPort(request: PortRequest): Promise<OpenedPort> {
  checkBaudRate(request.baudRate);
  if (!isAuto(request)) {
    const path = request.port!;
    const connection = await SerialConnection.open(path, { baudRate: request.baudRate, binding: request.binding });
    return { connection, description: path };
  }
  const chosen = await detectPort(request.listPorts ?? systemPortLister(), request.choosePort);
  const connection = await SerialConnection.open(chosen.port.path, { baudRate: request.baudRate, binding: request.binding });
  return { connection, description: describePort(chosen.port, chosen.device), serialNumber: chosen.port.serialNumber };
}

export interface ReopenOptions {
  waitSeconds: number;
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * Waits for the port to come back and opens it: the same path, or for `auto` the same board
 * (by serial number) or the only candidate. Throws a UserError when the wait is over, or when
 * `signal` aborts.
 */
export async function reopenPort(request: PortRequest, previous: OpenedPort, options: ReopenOptions): Promise<OpenedPort> {
  const deadline = Date.now() + options.waitSeconds * 1000;
  let lastProblem: string;
  for (;;) {
    if (options.signal?.aborted) throw new UserError('stopped while waiting for the port to come back.');
    try {
      const path = isAuto(request) ? await findAgain(request, previous) : request.port!;
      if (path && existsSync(path)) {
        const connection = await SerialConnection.open(path, { baudRate: request.baudRate, binding: request.binding });
        return {
          connection,
          description: path === previous.connection.path ? previous.description : path,
          serialNumber: previous.serialNumber,
        };
      }
      lastProblem = '';
    } catch (err) {
      lastProblem = (err as Error).message; // busy or not ready yet right after re-enumeration: try again
    }
    if (Date.now() >= deadline) {
      throw new UserError(
        `${previous.connection.path} did not come back within ${options.waitSeconds} s${lastProblem ? ` (last attempt: ${lastProblem})` : ''}. ` +
          "Check the cable and the board's power, then run monitor again.",
      );
    }
    await sleep(options.pollMs ?? 250, options.signal);
  }
}

async function findAgain(request: PortRequest, previous: OpenedPort): Promise<string | undefined> {
  const ports = await (request.listPorts ?? systemPortLister())();
  const candidates = candidatePorts(ports);
  const same = candidates.find((c) => previous.serialNumber !== undefined && c.port.serialNumber === previous.serialNumber);
  if (same) return same.port.path;
  if (candidates.some((c) => c.port.path === previous.connection.path)) return previous.connection.path;
  return candidates.length === 1 ? candidates[0].port.path : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
