/**
 * A serial port as a byte link: a USB-UART bridge, a board's USB CDC port, or a pseudo-terminal
 * bridged to an emulator, opened with @serialport/bindings-cpp.
 *
 *   const port = await SerialConnection.open('/dev/ttyACM0', { baudRate: 115200 });
 *   const session = new DeviceSession(port.link());        // a fresh stream pair per session
 *   port.lost.then((why) => …);                              // the port went away, or was closed
 *   await port.close();
 *
 * Reading is a loop of `read()` calls. A pending read is not always rejected when the other side
 * goes away (a USB device unplugged, the emulator's pty closed), so the loop also races a
 * watchdog that checks every 250 ms that the device file still exists. DTR is raised, as a Pico's
 * USB CDC needs; a pty refuses that ioctl, which is fine.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import type { SerialPortInfo } from './ports.js';
import { LossWatch, linkStreams } from './link-streams.js';
import type { DeviceLink } from './session.js';

/** The part of a @serialport/bindings-cpp port this module uses. */
export interface BindingPort {
  read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer): Promise<void>;
  set(options: { dtr?: boolean; rts?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** The part of a @serialport/bindings-cpp binding this module uses (tests inject their own). */
export interface SerialBinding {
  list(): Promise<SerialPortInfo[]>;
  open(options: { path: string; baudRate: number; lock?: boolean }): Promise<BindingPort>;
}

let systemBinding: Promise<SerialBinding> | undefined;

/** The platform's binding, loaded on first use (a native module: only commands that need it pay for it). */
export function serialBinding(): Promise<SerialBinding> {
  systemBinding ??= import('@serialport/bindings-cpp').then((m) => m.autoDetect() as unknown as SerialBinding);
  return systemBinding;
}

export interface OpenOptions {
  baudRate: number;
  binding?: SerialBinding;
  /** How often the watchdog checks that the device file still exists (ms). */
  watchMs?: number;
}

const READ_CHUNK = 4096;

/**
 * An open serial port: `onData` subscribers get what it receives, `write` sends in order, `lost` resolves
 * when it goes away. Made by `open`; `link()` gives each DeviceSession its own stream pair.
 */
export class SerialConnection {
  private readonly listeners = new Set<(bytes: Buffer) => void>();
  private readonly loss = new LossWatch();
  private writing: Promise<void> = Promise.resolve();
  private watchdog?: NodeJS.Timeout;
  private closing = false;
  private readonly wakeReader: Promise<'gone'>;
  private wake!: () => void;
  /** Resolves with the reason once the port is gone (unplugged, closed, an I/O error). */
  readonly lost: Promise<string> = this.loss.lost;

  private constructor(
    readonly path: string,
    readonly baudRate: number,
    private readonly port: BindingPort,
    watchMs: number,
  ) {
    this.wakeReader = new Promise((resolve) => (this.wake = () => resolve('gone')));
    if (process.platform !== 'win32') {
      this.watchdog = setInterval(() => {
        if (!existsSync(path)) this.markLost('the device node disappeared');
      }, watchMs);
      this.watchdog.unref();
    }
    void this.readLoop();
  }

  /** Opens a port; a failure is a UserError that says what to do (missing, permissions, in use). */
  static async open(path: string, options: OpenOptions): Promise<SerialConnection> {
    const binding = options.binding ?? (await serialBinding());
    let port: BindingPort;
    try {
      port = await binding.open({ path, baudRate: options.baudRate, lock: true });
    } catch (err) {
      throw openError(path, err);
    }
    // a Pico's USB CDC sends nothing until the host raises DTR; a pty has no modem lines
    await port.set({ dtr: true, rts: true }).catch(() => {});
    return new SerialConnection(path, options.baudRate, port, options.watchMs ?? 250);
  }

  get isLost(): boolean {
    return this.loss.reason !== undefined;
  }

  /** Why the port is gone, if it is. */
  get lostReason(): string | undefined {
    return this.loss.reason;
  }

  /** Calls `listener` with each chunk received. Returns an unsubscribe function. */
  onData(listener: (bytes: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes bytes after those written before; rejects if the port is gone. */
  write(bytes: Uint8Array): Promise<void> {
    const chunk = Buffer.from(bytes);
    const next = this.writing.then(async () => {
      if (this.loss.reason !== undefined) throw new UserError(`cannot write to ${this.path}: ${this.loss.reason}.`);
      try {
        await this.port.write(chunk);
      } catch (err) {
        this.markLost(`writing to it failed: ${(err as Error).message}`);
        throw new UserError(`cannot write to ${this.path}: ${(err as Error).message}.`);
      }
    });
    this.writing = next.catch(() => {});
    return next;
  }

  /**
   * A fresh pair of streams over this port, for one DeviceSession. Ending its writable side (as
   * DeviceSession.close does) detaches the pair and leaves the port open; the readable side ends
   * when the port is lost.
   */
  link(): DeviceLink {
    return linkStreams(this);
  }

  /** Calls `listener` once the port is lost (soon, if it already is). Returns an unsubscribe function. */
  onLost(listener: () => void): () => void {
    return this.loss.onLost(listener);
  }

  /** Closes the port (the reading loop ends; `lost` resolves). Never throws. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.markLost('the port was closed');
    await Promise.race([this.writing, delay(500)]);
    await Promise.race([this.port.close().catch(() => {}), delay(1000)]);
  }

  private markLost(reason: string): void {
    if (this.loss.reason !== undefined) return;
    if (this.watchdog) clearInterval(this.watchdog);
    this.wake();
    this.loss.markLost(reason);
    // a port that vanished must still be released, or its file descriptor stays open
    if (!this.closing) void this.port.close().catch(() => {});
  }

  private async readLoop(): Promise<void> {
    const buffer = Buffer.alloc(READ_CHUNK);
    while (this.loss.reason === undefined) {
      let result: { bytesRead: number } | 'gone';
      try {
        result = await Promise.race([this.port.read(buffer, 0, buffer.length), this.wakeReader]);
      } catch (err) {
        this.markLost(this.closing ? 'the port was closed' : `reading from it failed: ${(err as Error).message}`);
        return;
      }
      if (result === 'gone') return;
      if (result.bytesRead === 0) continue;
      const chunk = Buffer.from(buffer.subarray(0, result.bytesRead));
      for (const listener of this.listeners) listener(chunk);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An open() failure as a message that says what to do. */
export function openError(path: string, err: unknown): UserError {
  const message = err instanceof Error ? err.message : String(err);
  if (/No such file or directory|ENOENT|cannot find the file/i.test(message)) {
    return new UserError(
      `${path}: no such serial port. Is the board plugged in, with a data cable? llama2-embed monitor --port auto looks for it.`,
    );
  }
  if (/Permission denied|EACCES|Access denied/i.test(message)) {
    const group = deviceGroup(path);
    return new UserError(
      `no permission to open ${path}${group ? ` (it belongs to the ${group} group)` : ''}. On Linux, add your user to that group: ` +
        `sudo usermod -aG ${group ?? 'dialout'} $USER, then log out and in again.`,
    );
  }
  if (/Cannot lock port|Resource busy|EBUSY|Access is denied/i.test(message)) {
    const holders = portHolders(path);
    return new UserError(
      `${path} is in use by another program${holders.length > 0 ? ` (${holders.join(', ')})` : ''}: ` +
        'close it (a serial terminal, another llama2-embed monitor, ModemManager) and try again.',
    );
  }
  return new UserError(`cannot open ${path}: ${message.replace(/^Error:?\s*/, '')}.`);
}

/** The group that owns a device file (Linux: usually dialout or uucp), if it can be found. */
function deviceGroup(path: string): string | undefined {
  try {
    const gid = statSync(path).gid;
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(gid));
    return line?.split(':')[0];
  } catch {
    return undefined;
  }
}

/** The processes that have `path` open (Linux, from /proc), as "pid 123 (screen)". */
export function portHolders(path: string): string[] {
  if (process.platform !== 'linux') return [];
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return [];
  }
  const holders: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    const holds = fds.some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    let name = '?';
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      // keep '?'
    }
    holders.push(`pid ${pid} (${name})${Number(pid) === process.pid ? ', this process' : ''}`);
  }
  return holders;
}
