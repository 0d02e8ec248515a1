/**
 * `--method picotool`: Raspberry Pi's picotool talks to the boot ROM over USB (its PICOBOOT
 * interface) instead of the drive: `picotool load -x FILE -f` writes the flash, checks nothing
 * is left out and starts the program. `-f` lets picotool itself reboot a Pico that runs a
 * pico-sdk program with USB stdio; with a Pico already in BOOTSEL mode picotool ignores it.
 */
import { UserError, describeError } from '../util/errors.js';
import { findExecutable, runTool, type ToolRun } from './external-tool.js';

export const PICOTOOL_INSTALL_HINT =
  "Install it: on Linux your distribution's package where there is one (sudo apt install picotool on recent Debian and Ubuntu), " +
  'on macOS brew install picotool, elsewhere build it from its sources (github.com/raspberrypi/picotool). ' +
  "Or flash without it: leave out --method, and the UF2 is copied to the Pico's boot drive.";

/** `load -x UF2 -f`: write the flash, then run it; -f reboots a Pico running a USB-stdio program into BOOTSEL. */
export function picotoolArgs(uf2: string): string[] {
  return ['load', '-x', uf2, '-f'];
}

/** What picotool's failure output usually means, as advice; undefined when nothing matches. */
export function picotoolAdvice(output: string): string | undefined {
  if (/unable to connect|check your permissions|LIBUSB_ERROR_ACCESS|Zadig/i.test(output)) {
    return 'picotool found the Pico but may not open it. On Linux, allow your user to reach Raspberry Pi USB devices with a udev rule (doc/flash.md shows one), or run picotool with sudo; on Windows, install the WinUSB driver for the RP2 Boot interface (Zadig).';
  }
  if (/No accessible RP|no .*devices in BOOTSEL mode|not found/i.test(output)) {
    return "picotool found no Pico in BOOTSEL mode. Hold BOOTSEL while plugging the Pico in (a Pico running llama2-embed's firmware has no USB of its own, so nothing can reboot it from the computer), and check that the cable carries data, not just power.";
  }
  return undefined;
}

/**
 * Loads `uf2` with picotool and starts it, its output passed to `report` line by line. Throws a UserError
 * when picotool is not on PATH, cannot start, or fails (with advice read from its output).
 */
export async function flashWithPicotool(uf2: string, options: { report: (line: string) => void; env?: NodeJS.ProcessEnv }): Promise<void> {
  const env = options.env ?? process.env;
  const exe = findExecutable('picotool', env);
  if (!exe) throw new UserError(`--method picotool needs picotool, which is not on your PATH. ${PICOTOOL_INSTALL_HINT}`);
  const args = picotoolArgs(uf2);
  options.report(`running ${exe} ${args.join(' ')}`);
  let run: ToolRun;
  try {
    run = await runTool(exe, args, { report: options.report, prefix: '  picotool: ', env });
  } catch (err) {
    throw new UserError(`could not run ${exe}: ${describeError(err)}`);
  }
  if (run.code !== 0) {
    const how = run.code === null ? `was stopped by ${run.signal}` : `failed (exit code ${run.code})`;
    const advice = picotoolAdvice(run.output);
    throw new UserError(`picotool ${how}; its output is above.${advice ? ` ${advice}` : ''}`);
  }
  options.report('picotool loaded the firmware and started it');
}
