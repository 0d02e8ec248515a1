/**
 * The "1200-baud touch": a program built with the pico-sdk's USB stdio (and Arduino-Pico,
 * MicroPython) reboots the RP2040 into BOOTSEL mode when its USB serial port is opened at
 * 1200 baud and closed. This module finds such a Pico among the serial ports (USB vendor id
 * 0x2e8a, Raspberry Pi) and sends the touch.
 *
 * The port layer is an interface so tests can inject one; the real one comes from
 * @serialport/bindings-cpp, loaded only when needed (it is a native module).
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../util/errors.js';

export const RASPBERRY_PI_USB_VID = 0x2e8a;
/**
 * Raspberry Pi's debug probes (picoprobe 0x0004, Debug Probe 0x000c) share the vendor id, but
 * their serial port is a bridge to the target's UART: opening it at 1200 baud only changes that
 * UART's speed, so they are never touched.
 */
export const DEBUG_PROBE_PIDS: readonly number[] = [0x0004, 0x000c];
export const TOUCH_BAUD = 1200;

export interface SerialPortInfo {
  path: string;
  /** Hex, as the port listing gives it ("2e8a" or "2E8A"). */
  vendorId?: string;
  productId?: string;
  manufacturer?: string;
  serialNumber?: string;
}

export interface SerialPorts {
  list(): Promise<SerialPortInfo[]>;
  /** Opens `path` at 1200 baud, drops DTR and closes it. */
  touch1200(path: string): Promise<void>;
}

function hexId(id: string | undefined): number | undefined {
  if (id === undefined) return undefined;
  const n = Number.parseInt(id, 16);
  return Number.isNaN(n) ? undefined : n;
}

/** Whether the port is a Raspberry Pi debug probe's (picoprobe, Debug Probe), which never gets the 1200-baud touch. */
export function isDebugProbe(port: SerialPortInfo): boolean {
  return hexId(port.vendorId) === RASPBERRY_PI_USB_VID && DEBUG_PROBE_PIDS.includes(hexId(port.productId) ?? -1);
}

/** Ports that are a Pico's own USB serial (vendor 0x2e8a, not a debug probe). */
export function picoSerialPorts(ports: SerialPortInfo[]): SerialPortInfo[] {
  return ports.filter((p) => hexId(p.vendorId) === RASPBERRY_PI_USB_VID && !isDebugProbe(p));
}

/** The port for messages: its path, USB ids and manufacturer ("/dev/ttyACM0 (USB 2e8a:000a, Raspberry Pi)"). */
export function describePort(port: SerialPortInfo): string {
  const ids = port.vendorId
    ? ` (USB ${port.vendorId.toLowerCase()}:${(port.productId ?? '????').toLowerCase()}${port.manufacturer ? `, ${port.manufacturer}` : ''})`
    : '';
  return `${port.path}${ids}`;
}

interface Binding {
  list(): Promise<SerialPortInfo[]>;
  open(options: { path: string; baudRate: number }): Promise<{
    set(options: { dtr?: boolean; rts?: boolean }): Promise<void>;
    close(): Promise<void>;
  }>;
}

/**
 * The serial ports of this machine through @serialport/bindings-cpp, or a sentence saying why
 * they cannot be listed (the module is not installed, or its native part did not load).
 */
export async function loadSerialPorts(): Promise<SerialPorts | string> {
  const name = '@serialport/bindings-cpp'; // a variable: the build does not need the module to be installed
  let binding: Binding;
  try {
    const module = (await import(name)) as { autoDetect(): Binding };
    binding = module.autoDetect();
  } catch (err) {
    return `serial ports could not be listed: ${name} did not load (${describeError(err).split('\n')[0]}); run npm ci`;
  }
  return {
    list: () => binding.list(),
    touch1200: async (path) => {
      let port;
      try {
        port = await binding.open({ path, baudRate: TOUCH_BAUD });
      } catch (err) {
        throw new PortOpenError(path, err);
      }
      // pico-sdk reboots when the line coding says 1200 baud; Arduino-style boards when DTR
      // drops at 1200 baud. The board may be gone before these return: ignore their errors.
      await port.set({ dtr: false, rts: false }).catch(() => undefined);
      await port.close().catch(() => undefined);
    },
  };
}

/** A port that would not open, with the reason in words a user can act on. */
export class PortOpenError extends Error {
  readonly reason: 'missing' | 'busy' | 'permission' | 'other';
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const text = describeError(cause);
    const reason = /no such file|not found|cannot find|ENOENT/i.test(text)
      ? 'missing'
      : /lock|busy|temporarily unavailable|in use|EBUSY/i.test(text)
        ? 'busy'
        : /permission|access (is )?denied|EACCES/i.test(text)
          ? 'permission'
          : 'other';
    super(describePortOpenError(path, reason, text));
    this.reason = reason;
  }
}

function describePortOpenError(path: string, reason: PortOpenError['reason'], text: string): string {
  switch (reason) {
    case 'missing':
      return `there is no serial port ${path} (${text}); llama2-embed monitor lists the ports it finds.`;
    case 'busy': {
      const holders = processesHolding(path);
      const who =
        holders.length > 0
          ? holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')
          : 'another program (a serial terminal, llama2-embed monitor, or ModemManager on Linux)';
      return `${path} is busy: ${who} has it open. Close it and flash again.`;
    }
    case 'permission':
      return process.platform === 'win32'
        ? `${path} could not be opened (${text}): on Windows this usually means another program has it open; close it and flash again.`
        : `you may not open ${path} (${text}). On Linux, add yourself to the group that owns it (Debian, Ubuntu: sudo usermod -aG dialout $USER; Arch: uucp), then log out and in again.`;
    default:
      return `${path} could not be opened: ${text}`;
  }
}

/**
 * Linux: the processes that have `path` open (from /proc/<pid>/fd), to name them when a port is
 * busy. Empty elsewhere, or when nothing can be read (other users' processes are not readable).
 */
export function processesHolding(path: string, proc = '/proc'): { pid: number; command: string }[] {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    real = path;
  }
  const found: { pid: number; command: string }[] = [];
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((n) => /^\d+$/.test(n));
  } catch {
    return found;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(join(proc, pid, 'fd'));
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        return readlinkSync(join(proc, pid, 'fd', fd)) === real;
      } catch {
        return false;
      }
    });
    if (!holds || Number(pid) === process.pid) continue;
    let command = '?';
    try {
      command = readFileSync(join(proc, pid, 'comm'), 'utf8').trim();
    } catch {
      /* gone meanwhile */
    }
    found.push({ pid: Number(pid), command });
  }
  return found;
}
