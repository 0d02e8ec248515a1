/**
 * The default way onto a Pico: copy the UF2 to its boot drive, as a user would by hand.
 *
 * 1. check the UF2 (RP2040 blocks, a boot2 the ROM accepts);
 * 2. find a mounted RP2040 boot drive; if there is none but a Pico runs a program with USB
 *    serial (pico-sdk stdio, Arduino-Pico, MicroPython), reboot it into BOOTSEL mode with the
 *    1200-baud touch and wait for its drive;
 * 3. copy the file, flushing as it goes, with a progress bar;
 * 4. wait for the drive to go away: the boot ROM reboots into the new firmware after the last block.
 *
 * Everything that touches the machine (mount points, serial ports, the file system, the
 * clock's patience) comes in through `Uf2DeployEnvironment`, so tests can stand in for it.
 */
import { basename } from 'node:path';
import { UserError } from '../util/errors.js';
import { formatBytes, Progress } from '../util/progress.js';
import {
  copyToDrive,
  defaultDriveSearch,
  describeDriveSearch,
  findBootDrives,
  INFO_FILE,
  isRp2040Drive,
  labelledBootDevices,
  nodeDriveFileSystem,
  RP2040_BOARD_ID,
  waitForDriveGone,
  waitForRp2040Drive,
  type BootDrive,
  type DriveFileSystem,
  type DriveSearch,
  type ProgressLike,
} from './bootsel-drive.js';
import { checkRp2040Uf2, describeFamily } from './firmware-file.js';
import {
  describePort,
  isDebugProbe,
  loadSerialPorts,
  picoSerialPorts,
  PortOpenError,
  type SerialPortInfo,
  type SerialPorts,
} from './touch1200.js';

export interface Uf2DeployEnvironment {
  search: DriveSearch;
  /** The serial ports, or a sentence saying why they cannot be listed. */
  serialPorts: () => Promise<SerialPorts | string>;
  fs: DriveFileSystem;
  progress: (label: string, totalBytes: number) => ProgressLike;
  /** How long to wait for the boot drive after a 1200-baud touch. */
  appearTimeoutMs: number;
  /** How long to wait for the drive to go away after the copy. */
  goneTimeoutMs: number;
  pollMs: number;
  /** Boot drives the system sees but has not mounted (Linux: /dev/disk/by-label/RPI-RP2). */
  unmountedDrives: () => string[];
  platform: NodeJS.Platform;
}

/**
 * This machine: the operating system's mount points, serial ports through @serialport/bindings-cpp, node:fs,
 * a progress bar on stderr, and 20 s for the boot drive to appear or to go away.
 */
export function defaultUf2DeployEnvironment(): Uf2DeployEnvironment {
  return {
    search: defaultDriveSearch(),
    serialPorts: loadSerialPorts,
    fs: nodeDriveFileSystem,
    progress: (label, total) => new Progress(label, total, { unit: 'bytes' }),
    appearTimeoutMs: 20_000,
    goneTimeoutMs: 20_000,
    pollMs: 200,
    unmountedDrives: () => (process.platform === 'linux' ? labelledBootDevices() : []),
    platform: process.platform,
  };
}

export interface Uf2DeployRequest {
  uf2: string;
  /** The serial port of a Pico to reboot into BOOTSEL mode, when no boot drive is mounted. */
  port?: string;
  report: (line: string) => void;
}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

/**
 * Steps 1-4 above for `request.uf2`; resolves once the Pico has rebooted into the new firmware. Throws a
 * UserError for a UF2 the RP2040 would not start, no boot drive and no Pico to reboot, a failed copy, or a
 * drive still there after `goneTimeoutMs`.
 */
export async function deployUf2(request: Uf2DeployRequest, env: Uf2DeployEnvironment): Promise<void> {
  const { report } = request;
  const checked = checkRp2040Uf2(request.uf2);
  const { image } = checked;
  report(
    `${request.uf2}: ${image.blockCount} UF2 blocks, ${formatBytes(image.image.length)} from 0x${image.baseAddress.toString(16)} for the RP2040`,
  );
  for (const family of checked.otherFamilies) report(`note: it also has blocks for ${describeFamily(family)}; the RP2040 ignores them`);

  let drive = pickDrive(findBootDrives(env.search), request.uf2);
  if (!drive) drive = await rebootIntoBootsel(request, env);

  report(`copying to the Pico's boot drive at ${drive.path}`);
  const progress = env.progress(`copying ${basename(request.uf2)}`, checked.file.length);
  const written = await copyToDrive(checked.file, drive, basename(request.uf2), { fs: env.fs, progress, warn: report });
  report(`wrote ${written}; waiting for the Pico to reboot into the new firmware…`);
  if (!(await waitForDriveGone(drive, env.goneTimeoutMs, env.pollMs))) {
    throw new UserError(
      `the boot drive at ${drive.path} is still there ${seconds(env.goneTimeoutMs)} after the copy: the Pico has not rebooted. ` +
        'Its boot ROM reboots once it holds every block of a UF2 for the RP2040, so it may not have taken the whole file (is there a ' +
        `${basename(request.uf2)} on the drive that is shorter than ${formatBytes(checked.file.length)}?). ` +
        'If you mounted the drive by hand, the mount stays after the Pico has gone: unmount it and check whether the board runs. ' +
        'Otherwise unplug it, plug it in again holding BOOTSEL, and flash again.',
    );
  }
  report('the drive went away: the Pico has rebooted into the new firmware');
}

/** The one RP2040 drive to copy to; undefined when there is none; an error when several. */
function pickDrive(drives: BootDrive[], uf2: string): BootDrive | undefined {
  const picos = drives.filter(isRp2040Drive);
  if (picos.length > 1) {
    throw new UserError(
      `${picos.length} Picos are in BOOTSEL mode (${picos.map((d) => d.path).join(', ')}); flash would not know which to write. ` +
        'Unplug all but the one to flash, and run it again.',
    );
  }
  if (picos.length === 1) return picos[0];
  const others = drives.filter((d) => !isRp2040Drive(d));
  if (others.length > 0) {
    const list = others.map((d) => `${d.path} (Board-ID: ${d.boardId}${d.model ? `, ${d.model}` : ''})`).join(', ');
    const pico2 = others.some((d) => /RP2350/i.test(d.boardId));
    throw new UserError(
      `the boot drive found is not an RP2040's: ${list}. ${uf2} is for the RP2040 (Board-ID ${RP2040_BOARD_ID}), and another chip's ` +
        `boot loader would ignore it.${pico2 ? ' A Pico 2 (RP2350) needs a firmware built for it, which llama2-embed cannot build yet.' : ''} ` +
        'Plug in a Raspberry Pi Pico holding BOOTSEL.',
    );
  }
  return undefined;
}

/**
 * No boot drive: reboot a Pico that runs a program with USB serial into BOOTSEL mode (the
 * 1200-baud touch) and wait for its drive. Says what was looked for when nothing is found.
 */
async function rebootIntoBootsel(request: Uf2DeployRequest, env: Uf2DeployEnvironment): Promise<BootDrive> {
  const { report } = request;
  const ports = await env.serialPorts();
  let listing: SerialPortInfo[] | undefined;
  let listingProblem: string | undefined;
  if (typeof ports === 'string') listingProblem = ports;
  else {
    try {
      listing = await ports.list();
    } catch (err) {
      listingProblem = `serial ports could not be listed: ${(err as Error).message}`;
    }
  }

  let port: SerialPortInfo | undefined;
  if (request.port !== undefined) {
    port = listing?.find((p) => p.path === request.port) ?? { path: request.port };
    if (isDebugProbe(port)) {
      throw new UserError(
        `${describePort(port)} is a debug probe's serial port, a bridge to the target's UART: a 1200-baud touch there reboots nothing. ` +
          'Flash over the probe with --method openocd, or hold BOOTSEL while plugging the Pico in.',
      );
    }
    if (port.vendorId !== undefined && picoSerialPorts([port]).length === 0) {
      report(`note: ${describePort(port)} is not a Raspberry Pi USB device; the 1200-baud touch reaches only a Pico's own USB serial`);
    }
  } else if (listing) {
    const picos = picoSerialPorts(listing);
    if (picos.length > 1) {
      throw new UserError(
        `no boot drive is mounted, and ${picos.length} Picos are on serial ports: ${picos.map(describePort).join(', ')}. ` +
          'Say which one to reboot into BOOTSEL mode with --port.',
      );
    }
    port = picos[0];
  }
  if (!port) throw new UserError(nothingFoundMessage(env, listing, listingProblem));
  if (typeof ports === 'string') {
    throw new UserError(
      `no boot drive is mounted, and ${request.port} cannot be rebooted into BOOTSEL mode: ${ports}. Or hold BOOTSEL while plugging the Pico in.`,
    );
  }

  report(`no boot drive is mounted; rebooting the Pico on ${describePort(port)} into BOOTSEL mode (opening it at 1200 baud)`);
  try {
    await ports.touch1200(port.path);
  } catch (err) {
    if (err instanceof PortOpenError) throw new UserError(err.message);
    throw new UserError(`could not reboot the Pico on ${port.path} into BOOTSEL mode: ${(err as Error).message}`);
  }
  report(`waiting up to ${seconds(env.appearTimeoutMs)} for its boot drive…`);
  const drives = await waitForRp2040Drive(env.search, env.appearTimeoutMs, env.pollMs);
  if (drives.length === 0) {
    const unmounted = env.unmountedDrives();
    throw new UserError(
      `no RP2040 boot drive appeared within ${seconds(env.appearTimeoutMs)} after the 1200-baud touch on ${port.path} ` +
        `(looked in ${describeDriveSearch(env.search)}). ` +
        (unmounted.length > 0
          ? `The system sees ${unmounted.join(', ')} but has not mounted it: mount it (sudo mount ${unmounted[0]} /mnt) and flash again. `
          : "The program on the Pico may not reboot on a 1200-baud touch (pico-sdk programs with USB stdio do; llama2-embed's own " +
            'firmware has no USB), or the drive is not mounted automatically on this machine. ') +
        'Hold BOOTSEL while plugging the Pico in, then flash again.',
    );
  }
  if (drives.length > 1) return pickDrive(drives, request.uf2) as BootDrive; // throws: several
  report(`the boot drive appeared at ${drives[0].path}`);
  return drives[0];
}

function nothingFoundMessage(env: Uf2DeployEnvironment, listing: SerialPortInfo[] | undefined, listingProblem: string | undefined): string {
  const lines = ['no Raspberry Pi Pico found to flash. Looked for:'];
  lines.push(
    `  - a mounted RP2040 boot drive (${INFO_FILE} saying Board-ID: ${RP2040_BOARD_ID}) in ${describeDriveSearch(env.search)}: none`,
  );
  if (listingProblem) lines.push(`  - a Pico on a serial port (USB vendor id 0x2e8a) to reboot into BOOTSEL mode: ${listingProblem}`);
  else {
    const probes = (listing ?? []).filter(isDebugProbe);
    const seen = (listing ?? []).filter((p) => !isDebugProbe(p)).map(describePort);
    lines.push(
      `  - a Pico on a serial port (USB vendor id 0x2e8a) to reboot into BOOTSEL mode: none${seen.length > 0 ? ` among ${seen.join(', ')}` : ' (no serial ports)'}`,
    );
    if (probes.length > 0)
      lines.push(`    (${probes.map(describePort).join(', ')}: a debug probe; flash through it with --method openocd)`);
  }
  const unmounted = env.unmountedDrives();
  lines.push('What to do:');
  if (unmounted.length > 0) {
    lines.push(
      `  - the system sees a Pico's boot drive at ${unmounted.join(', ')} but has not mounted it: sudo mount ${unmounted[0]} /mnt, then flash again`,
    );
  }
  lines.push('  - hold the BOOTSEL button while plugging the Pico in: a drive named RPI-RP2 appears; then flash again');
  lines.push(
    "    (a Pico running llama2-embed's firmware built with USB serial, the default, shows up as a serial port 2e8a:000a and is rebooted from here;",
  );
  lines.push('     one built with --stdio uart has no USB port, so it cannot be)');
  lines.push('  - if no drive appears, try another USB cable: many carry only power, not data');
  if (env.platform === 'linux')
    lines.push(
      '  - on Linux without a desktop, removable drives are not mounted by themselves: mount it, e.g. sudo mount /dev/disk/by-label/RPI-RP2 /mnt',
    );
  lines.push('  - a Pico running a pico-sdk program with USB serial: name its port with --port to reboot it into BOOTSEL mode');
  lines.push('  - or flash with picotool (--method picotool) or a debug probe (--method openocd); see doc/flash.md');
  return lines.join('\n');
}
