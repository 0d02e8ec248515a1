/**
 * `--method openocd`: writing the ELF into flash over SWD with a debug probe (a Raspberry Pi
 * Debug Probe, or any CMSIS-DAP probe; another with --interface), then verifying it and
 * resetting the board:
 *
 *   openocd -f interface/cmsis-dap.cfg -f target/rp2040.cfg -c "adapter speed 5000"
 *           -c "program <elf> verify reset exit"
 */
import { UserError, describeError } from '../util/errors.js';
import { findExecutable, runTool, type ToolRun } from './external-tool.js';

export const DEFAULT_OPENOCD_INTERFACE = 'cmsis-dap';
export const OPENOCD_ADAPTER_KHZ = 5000;

export const OPENOCD_INSTALL_HINT =
  'Install OpenOCD 0.12 or newer (the first with target/rp2040.cfg): on Debian and Ubuntu sudo apt install openocd, ' +
  "on macOS brew install openocd; or build Raspberry Pi's fork (github.com/raspberrypi/openocd). " +
  "Without a debug probe, leave out --method: the UF2 is copied to the Pico's boot drive.";

/** `cmsis-dap` → `interface/cmsis-dap.cfg`; a path or a name ending in .cfg is kept as it is. */
export function openocdInterfaceConfig(name: string = DEFAULT_OPENOCD_INTERFACE): string {
  if (name.includes('/') || name.includes('\\') || name.endsWith('.cfg')) return name;
  return `interface/${name}.cfg`;
}

/** A file name as a double-quoted Tcl word (openocd's -c commands are Tcl). */
export function tclQuote(path: string, platform: NodeJS.Platform = process.platform): string {
  const slashes = platform === 'win32' ? path.replace(/\\/g, '/') : path;
  return `"${slashes.replace(/[\\"$[\]{}]/g, (c) => `\\${c}`)}"`;
}

/**
 * openocd's arguments (see above) to program, verify and reset with `elf` through the probe interface
 * `iface` (default cmsis-dap); `platform` decides how the path is quoted.
 */
export function openocdArgs(elf: string, iface?: string, platform: NodeJS.Platform = process.platform): string[] {
  return [
    '-f',
    openocdInterfaceConfig(iface),
    '-f',
    'target/rp2040.cfg',
    '-c',
    `adapter speed ${OPENOCD_ADAPTER_KHZ}`,
    '-c',
    `program ${tclQuote(elf, platform)} verify reset exit`,
  ];
}

/** What openocd's failure output usually means, as advice; undefined when nothing matches. */
export function openocdAdvice(output: string, iface: string): string | undefined {
  if (/target\/rp2040\.cfg/i.test(output) && /can't find|couldn't open|no such file/i.test(output)) {
    return 'This openocd has no target/rp2040.cfg: it is older than 0.12. ' + OPENOCD_INSTALL_HINT;
  }
  if (/can't find interface|interface\/.*\.cfg.*(can't find|couldn't open)/i.test(output)) {
    return `openocd does not know the interface "${iface}": --interface takes a name from openocd's scripts/interface/ folder (cmsis-dap, picoprobe, …) or a .cfg file.`;
  }
  if (/LIBUSB_ERROR_ACCESS|permission denied/i.test(output)) {
    return 'openocd found the probe but may not open it: on Linux add a udev rule for it (doc/flash.md shows one) or run openocd with sudo.';
  }
  if (/unable to find .*(CMSIS-DAP|device)|No CMSIS-DAP device|no device found|unable to open .*device/i.test(output)) {
    return `No debug probe was found (interface ${openocdInterfaceConfig(iface)}). Check that the probe is plugged in, or name yours with --interface.`;
  }
  if (/Error connecting DP|cannot read IDR|DAP init failed|Failed to connect|target not examined/i.test(output)) {
    return "The probe is there but the RP2040 does not answer on SWD: check the wires (SWCLK, SWDIO and GND to the Pico's DEBUG pins), that the Pico is powered, and try a lower speed if the wires are long.";
  }
  if (/verify failed|checksum mismatch/i.test(output)) {
    return 'The flash did not read back as written: try again, and check the wiring and power.';
  }
  return undefined;
}

/**
 * Writes `elf` to the board with openocd and a debug probe, its output passed to `report` line by line.
 * Throws a UserError when openocd is not on PATH, cannot start, or fails (with advice read from its output).
 */
export async function flashWithOpenocd(
  elf: string,
  options: { report: (line: string) => void; interface?: string; env?: NodeJS.ProcessEnv },
): Promise<void> {
  const env = options.env ?? process.env;
  const exe = findExecutable('openocd', env);
  if (!exe) throw new UserError(`--method openocd needs openocd, which is not on your PATH. ${OPENOCD_INSTALL_HINT}`);
  const iface = options.interface ?? DEFAULT_OPENOCD_INTERFACE;
  const args = openocdArgs(elf, iface);
  options.report(`running ${exe} ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`);
  let run: ToolRun;
  try {
    run = await runTool(exe, args, { report: options.report, prefix: '  openocd: ', env });
  } catch (err) {
    throw new UserError(`could not run ${exe}: ${describeError(err)}`);
  }
  if (run.code !== 0) {
    const how = run.code === null ? `was stopped by ${run.signal}` : `failed (exit code ${run.code})`;
    const advice = openocdAdvice(run.output, iface);
    throw new UserError(`openocd ${how}; its output is above.${advice ? ` ${advice}` : ''}`);
  }
  options.report('openocd wrote, verified and reset the board');
}
