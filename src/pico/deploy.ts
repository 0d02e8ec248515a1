/**
 * Putting a built firmware on a real board: what `llama2-embed flash` does without --emulate.
 * Three methods, as picotool and PlatformIO users know them (doc/flash.md):
 *
 *   uf2       (default) copy the UF2 to the Pico's boot drive, rebooting a Pico that runs a
 *             USB-serial program into BOOTSEL mode first if no drive is mounted (uf2-deploy.ts);
 *   picotool  `picotool load -x firmware.uf2 -f` (picotool.ts);
 *   openocd   the ELF over SWD with a debug probe (openocd.ts).
 *
 * Every check on the files and the target runs before anything touches a board.
 */
import { loadTarget } from '../plan/target.js';
import { UserError } from '../util/errors.js';
import { checkArmElf, checkBuiltFor, checkRp2040Uf2, locateFirmware, requireFirmwareFile } from './firmware-file.js';
import { flashWithOpenocd } from './openocd.js';
import { flashWithPicotool } from './picotool.js';
import { defaultUf2DeployEnvironment, deployUf2 } from './uf2-deploy.js';

const METHODS = ['uf2', 'picotool', 'openocd'] as const;

/**
 * Flashes the firmware built for `options.target` (`options.firmware`: its build directory or one of its
 * files) onto a board by `method` (default uf2), reporting progress through `report`. Throws a UserError,
 * before touching the board, for a target that is not an RP2040, an unknown method, or missing or wrong files.
 */
export async function deployToBoard(options: {
  firmware: string;
  method?: string;
  port?: string;
  target: string;
  report: (line: string) => void;
  /** --method openocd: the debug probe's interface (a name in openocd's interface/ folder, or a .cfg); default cmsis-dap. */
  interface?: string;
}): Promise<void> {
  const { report } = options;
  const target = loadTarget(options.target);
  if (target.output !== 'firmware' || !target.firmware) {
    const howToRun =
      target.name === 'host'
        ? 'Run it with llama2-embed run'
        : `Copy the program (build/${target.name}/llama2) to that machine and run it there`;
    throw new UserError(
      `target "${target.name}" builds a program for a computer, not a microcontroller's firmware: there is nothing to flash. ` +
        `${howToRun}, or flash a board target (llama2-embed build --target rp2040, then llama2-embed flash).`,
    );
  }
  if (target.firmware.chip !== 'rp2040') {
    throw new UserError(
      `flash can put firmware on the RP2040 only so far; target "${target.name}" has a ${target.firmware.chip}. Use that chip's own flashing tool on the files in build/${target.name}/.`,
    );
  }
  const method = options.method ?? 'uf2';
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new UserError(
      `unknown flash method "${method}": use uf2 (the Pico's boot drive, the default), picotool or openocd (a debug probe).`,
      2,
    );
  }
  if (options.port !== undefined && method !== 'uf2')
    report(`note: --port is for the boot-drive method (uf2); --method ${method} does not use it`);
  if (options.interface !== undefined && method !== 'openocd')
    report(`note: --interface is for --method openocd; --method ${method} does not use it`);

  const files = locateFirmware(options.firmware, target.name);
  checkBuiltFor(files, target.name);
  switch (method) {
    case 'uf2': {
      const uf2 = requireFirmwareFile(files, 'uf2', method, target.name);
      await deployUf2({ uf2, port: options.port, report }, defaultUf2DeployEnvironment());
      return;
    }
    case 'picotool': {
      const uf2 = requireFirmwareFile(files, 'uf2', method, target.name);
      checkRp2040Uf2(uf2);
      await flashWithPicotool(uf2, { report });
      return;
    }
    case 'openocd': {
      const elf = requireFirmwareFile(files, 'elf', method, target.name);
      checkArmElf(elf);
      await flashWithOpenocd(elf, { report, interface: options.interface });
      return;
    }
  }
}
