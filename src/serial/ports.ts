/**
 * Which serial port is the board: the ports the system lists, the ones that look like a
 * Raspberry Pi Pico or a USB-UART bridge a Pico is wired to (by USB vendor and product id), and a
 * choice among them. The listing is injected (`ListPorts`), so that tests and other tools can
 * give their own; `systemPortLister()` is @serialport/bindings-cpp's (on Linux it runs udevadm).
 */
import { UserError } from '../util/errors.js';

/** A serial port as the system lists it. Only the path is always known. */
export interface SerialPortInfo {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  /** USB vendor id, 4 hex digits (any case), when the port is a USB device. */
  vendorId?: string;
  productId?: string;
}

export type ListPorts = () => Promise<SerialPortInfo[]>;

/** A kind of USB device that carries a board's UART (or is the board). */
export interface KnownDevice {
  vendorId: string;
  /** Absent: any product of the vendor. */
  productId?: string;
  name: string;
  /** Lower comes first when several ports match. */
  rank: number;
}

/** What we look for, most specific first. */
export const KNOWN_DEVICES: readonly KnownDevice[] = [
  { vendorId: '2e8a', productId: '000c', name: 'Raspberry Pi Debug Probe (debugprobe)', rank: 0 },
  { vendorId: '2e8a', name: 'Raspberry Pi device (a Pico or another RP2040 board)', rank: 0 },
  { vendorId: '10c4', productId: 'ea60', name: 'CP210x USB-UART bridge', rank: 1 },
  { vendorId: '1a86', productId: '7523', name: 'CH340 USB-UART bridge', rank: 1 },
  { vendorId: '0403', productId: '6001', name: 'FTDI FT232R USB-UART bridge', rank: 1 },
  { vendorId: '0403', productId: '6015', name: 'FTDI FT-X USB-UART bridge', rank: 1 },
];

export interface Candidate {
  port: SerialPortInfo;
  device: KnownDevice;
}

/** Chooses one of several candidates (the CLI asks the user). */
export type ChoosePort = (candidates: Candidate[]) => Promise<Candidate>;

function hex4(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const clean = id.trim().toLowerCase().replace(/^0x/, '');
  return /^[0-9a-f]{1,4}$/.test(clean) ? clean.padStart(4, '0') : undefined;
}

/** The known device a port belongs to, if any. */
export function recognizePort(port: SerialPortInfo): KnownDevice | undefined {
  const vendor = hex4(port.vendorId);
  const product = hex4(port.productId);
  if (!vendor) return undefined;
  return KNOWN_DEVICES.find((d) => d.vendorId === vendor && (d.productId === undefined || d.productId === product));
}

/** The ports that could be the board, Raspberry Pi devices first, then by path. */
export function candidatePorts(ports: SerialPortInfo[]): Candidate[] {
  const found: Candidate[] = [];
  for (const port of ports) {
    const device = recognizePort(port);
    if (device) found.push({ port, device });
  }
  return found.sort((a, b) => a.device.rank - b.device.rank || a.port.path.localeCompare(b.port.path));
}

/** One line about a port: path, what it is, its USB ids and serial number. */
export function describePort(port: SerialPortInfo, device = recognizePort(port)): string {
  const ids = hex4(port.vendorId) ? `${hex4(port.vendorId)}:${hex4(port.productId) ?? '????'}` : undefined;
  const details = [device?.name ?? port.manufacturer, ids, port.serialNumber ? `serial ${port.serialNumber}` : undefined].filter(Boolean);
  return details.length > 0 ? `${port.path} (${details.join(', ')})` : port.path;
}

/** What to check when no board is found, for every message that says so. */
export const NO_BOARD_ADVICE = [
  'the board is plugged in and powered, through a USB cable that carries data (some carry only power);',
  'a Pico running this firmware is a USB serial port on its own USB connector (2e8a:000a; the default, build --stdio usb); one built with --stdio uart talks on its UART0 pins (GP0 TX, GP1 RX): connect them to a USB-UART bridge or a Debug Probe;',
  'on Linux your user may lack permission for serial ports: add it to the dialout group (sudo usermod -aG dialout $USER, then log in again);',
  'or name the port: --port /dev/ttyACM0 (Linux), --port /dev/tty.usbmodem… (macOS), --port COM3 (Windows).',
];

/**
 * The port to open: the one candidate, or the one `choose` picks among several (without
 * `choose`, several are an error that lists them). No candidate is an error that says what the
 * system lists and what to check.
 */
export async function detectPort(list: ListPorts, choose?: ChoosePort): Promise<Candidate> {
  let ports: SerialPortInfo[];
  try {
    ports = await list();
  } catch (err) {
    throw new UserError(
      `cannot list the serial ports: ${(err as Error).message}. On Linux the listing needs udevadm (Debian/Ubuntu: apt-get install udev). ` +
        'Name the port instead: --port /dev/ttyACM0.',
    );
  }
  const candidates = candidatePorts(ports);
  if (candidates.length === 1) return candidates[0];
  if (candidates.length > 1) {
    if (choose) return choose(candidates);
    throw new UserError(
      `several serial ports could be the board:\n${candidates.map((c) => `  ${describePort(c.port, c.device)}`).join('\n')}\nChoose one with --port PATH.`,
      2,
    );
  }
  const seen =
    ports.length > 0
      ? `The system lists ${ports.map((p) => describePort(p)).join(', ')}, none of them a Pico or a known USB-UART bridge.`
      : 'The system lists no serial port at all.';
  throw new UserError(`no board found on a serial port. ${seen}\nCheck that:\n${NO_BOARD_ADVICE.map((a) => `  - ${a}`).join('\n')}`);
}

/** The system's port listing (@serialport/bindings-cpp, loaded when first needed). */
export function systemPortLister(): ListPorts {
  return async () => {
    const { serialBinding } = await import('./transport.js');
    return (await serialBinding()).list();
  };
}
