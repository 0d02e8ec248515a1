/**
 * Which files to flash, and checks that they are what the board will take: a UF2 with blocks
 * for the RP2040 and a boot2 the boot ROM accepts, or an ARM ELF for a debug probe. The checks
 * run before anything touches a board, so a wrong file never gets as far as the drive.
 */
import { existsSync, openSync, readFileSync, readSync, closeSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { BOOT2_BYTES, boot2Crc } from './boot2.js';
import {
  decodeUf2,
  parseUf2Blocks,
  RP2040_FAMILY_ID,
  RP2040_FLASH_BASE,
  UF2_FLAG_NOT_MAIN_FLASH,
  type Uf2Block,
  type Uf2Image,
} from './uf2.js';
import { UserError, describeError } from '../util/errors.js';
import { checkBuildFiles } from '../toolchain/build-info.js';

/**
 * The names `build` gives a firmware's outputs: FIRMWARE_OUTPUTS in src/codegen/firmware.ts
 * (not imported from there, because that module loads the C code generator; a test checks
 * that the two agree).
 */
export const FIRMWARE_FILE_NAMES = { uf2: 'firmware.uf2', elf: 'firmware.elf' } as const;
/** What `build` writes last in its output directory (BUILD_INFO in src/toolchain/build-info.ts). */
export const BUILD_INFO_FILE = 'build-info.json';

export interface FirmwareFiles {
  /** The directory the firmware is in. */
  dir: string;
  /** The UF2 to copy to the boot drive or give to picotool, if there is one. */
  uf2?: string;
  /** The ELF for a debug probe, if there is one. */
  elf?: string;
  /** The target named in the build's build-info.json, if the directory has one. */
  builtFor?: string;
}

function buildHint(target: string): string {
  return `Build it first: llama2-embed build --target ${target} (it writes build/${target}/${FIRMWARE_FILE_NAMES.uf2} and ${FIRMWARE_FILE_NAMES.elf}).`;
}

/**
 * Finds the UF2 and the ELF for `path`: a build directory, or one of the two files (the other
 * is looked for beside it, with the same name). Reads build-info.json, when the directory has
 * one, to say which target the firmware was built for.
 */
export function locateFirmware(path: string, target: string): FirmwareFiles {
  const full = resolve(path);
  if (!existsSync(full)) throw new UserError(`no firmware at ${path}. ${buildHint(target)}`);
  let dir: string;
  let stem: string;
  if (statSync(full).isDirectory()) {
    dir = full;
    stem = 'firmware';
  } else {
    dir = dirname(full);
    stem = basename(full, extname(full));
  }
  const sibling = (ext: string) => {
    const candidate = join(dir, `${stem}${ext}`);
    return existsSync(candidate) && statSync(candidate).isFile() ? candidate : undefined;
  };
  checkBuildFiles(dir, target); // never flash a firmware that its build-info.json does not describe
  const files: FirmwareFiles = { dir, uf2: sibling('.uf2'), elf: sibling('.elf'), builtFor: readBuiltFor(dir) };
  if (!statSync(full).isDirectory()) {
    const ext = extname(full).toLowerCase();
    if (ext === '.uf2') files.uf2 = full;
    else if (ext === '.elf') files.elf = full;
    else if (!files.uf2 && !files.elf) {
      throw new UserError(
        `${path} is neither a UF2 nor an ELF file, and there is no ${stem}.uf2 or ${stem}.elf beside it. Give the ${FIRMWARE_FILE_NAMES.uf2} or the build directory that llama2-embed build writes.`,
      );
    }
  } else if (!files.uf2 && !files.elf) {
    if (files.builtFor !== undefined && files.builtFor !== target) {
      // a host or Raspberry Pi build: say what it is, not only what it lacks
      const instead =
        files.builtFor === 'host'
          ? `It is a program for this computer: run it with llama2-embed run, or ${join(path, 'llama2')} --protocol behind socat for monitor (doc/monitor.md).`
          : files.builtFor.startsWith('rpi')
            ? `It is a Raspberry Pi program: copy it to the Pi with llama2-embed flash --target ${files.builtFor} --host USER@HOST (doc/raspberry-pi.md).`
            : `Flash it with --target ${files.builtFor}.`;
      throw new UserError(
        `${path} was built for target "${files.builtFor}" (its ${BUILD_INFO_FILE} says so), not "${target}": it has no ${FIRMWARE_FILE_NAMES.uf2} or ${FIRMWARE_FILE_NAMES.elf} to flash. ` +
          `${instead} ${buildHint(target)}`,
      );
    }
    throw new UserError(`${path} has no ${FIRMWARE_FILE_NAMES.uf2} or ${FIRMWARE_FILE_NAMES.elf}. ${buildHint(target)}`);
  }
  return files;
}

function readBuiltFor(dir: string): string | undefined {
  const path = join(dir, BUILD_INFO_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as { target?: unknown };
    return typeof info.target === 'string' ? info.target : undefined;
  } catch {
    return undefined;
  }
}

/** Refuses a firmware whose build-info.json names another target. */
export function checkBuiltFor(files: FirmwareFiles, target: string): void {
  if (files.builtFor === undefined || files.builtFor === target) return;
  throw new UserError(
    `the firmware in ${files.dir} was built for target "${files.builtFor}" (its ${BUILD_INFO_FILE} says so), not for "${target}". ` +
      `Build it for the board (llama2-embed build --target ${target}), or give --target ${files.builtFor} if that is the board you have.`,
  );
}

/** The file a method needs, or a message saying which one is missing and how to get it. */
export function requireFirmwareFile(files: FirmwareFiles, kind: 'uf2' | 'elf', method: string, target: string): string {
  const path = files[kind];
  if (path) return path;
  const what = kind === 'uf2' ? 'a UF2 file' : 'the ELF file (it carries the addresses a debug probe writes to)';
  throw new UserError(
    `--method ${method} flashes ${what}, and there is no ${kind === 'uf2' ? FIRMWARE_FILE_NAMES.uf2 : FIRMWARE_FILE_NAMES.elf} in ${files.dir}. ${buildHint(target)}`,
  );
}

/** UF2 family ids (from the UF2 specification's list) that people are likely to hold by mistake. */
const KNOWN_FAMILIES: Record<number, string> = {
  0xe48bff56: 'the RP2040 (Raspberry Pi Pico)',
  0xe48bff57: 'an RP2350 (Pico 2) "absolute" image',
  0xe48bff58: 'RP2350 (Pico 2) data',
  0xe48bff59: 'the RP2350 (Pico 2) in Arm Secure mode',
  0xe48bff5a: 'the RP2350 (Pico 2) in RISC-V mode',
  0xe48bff5b: 'the RP2350 (Pico 2) in Arm Non-secure mode',
  0xc47e5767: 'the ESP32-S3',
  0x1c5f21b0: 'the ESP32',
  0xbfdd4eee: 'the ESP32-S2',
  0x57755a57: 'the STM32F4',
  0x68ed2b88: 'the SAMD21',
  0x55114460: 'the SAMD51',
  0xada52840: 'the nRF52840',
};

/** A UF2 family id in words ("the RP2040 (Raspberry Pi Pico), family 0xe48bff56"); the bare id when unknown. */
export function describeFamily(id: number | undefined): string {
  if (id === undefined) return 'no family (the blocks carry no family id)';
  const hex = `0x${id.toString(16).padStart(8, '0')}`;
  const name = KNOWN_FAMILIES[id];
  return name ? `${name}, family ${hex}` : `family ${hex}`;
}

export interface CheckedUf2 {
  file: Buffer;
  image: Uf2Image;
  /** Families of other blocks in the file, which the RP2040's boot ROM will ignore. */
  otherFamilies: (number | undefined)[];
}

/**
 * Reads a UF2 and checks what the RP2040's boot ROM needs: valid blocks, numbered 0..n-1, for
 * the RP2040's family, and (for an image that starts at the start of flash) a boot2 whose CRC
 * the ROM accepts; otherwise the board would not start it after the copy.
 */
export function checkRp2040Uf2(path: string): CheckedUf2 {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${describeError(err)}`);
  }
  let blocks: Uf2Block[];
  try {
    blocks = parseUf2Blocks(file, path);
  } catch (err) {
    throw new UserError(`${describeError(err)} Flash the ${FIRMWARE_FILE_NAMES.uf2} that llama2-embed build --target rp2040 writes.`);
  }
  const families = [...new Set(blocks.filter((b) => !(b.flags & UF2_FLAG_NOT_MAIN_FLASH)).map((b) => b.familyId))];
  if (!families.includes(RP2040_FAMILY_ID)) {
    throw new UserError(
      `${path} is a UF2 for ${families.map(describeFamily).join(' and ')}, not for the RP2040 (family 0xe48bff56): ` +
        "a Pico's boot ROM would ignore every block and never start it. Build for the Pico (llama2-embed build --target rp2040), " +
        'or flash that file with the tools of the chip it is for.',
    );
  }
  const image = decodeUf2(file, { familyId: RP2040_FAMILY_ID }, path);
  if (image.baseAddress === RP2040_FLASH_BASE) {
    if (image.image.length < BOOT2_BYTES) {
      throw new UserError(
        `${path} holds only ${image.image.length} bytes at the start of flash, less than the ${BOOT2_BYTES} bytes of boot2 the boot ROM runs first; it is not a complete firmware.`,
      );
    }
    const crc = boot2Crc(image.image);
    if (!crc.ok) {
      throw new UserError(
        `${path} starts with a boot2 whose CRC is wrong (stored 0x${crc.stored.toString(16).padStart(8, '0')}, ` +
          `computed 0x${crc.computed.toString(16).padStart(8, '0')}): the boot ROM would not start it and the Pico would come back as a drive. ` +
          'Rebuild it: llama2-embed build --target rp2040.',
      );
    }
  }
  return { file, image, otherFamilies: families.filter((f) => f !== RP2040_FAMILY_ID) };
}

const ELF_MACHINES: Record<number, string> = { 3: 'x86', 40: 'Arm (32-bit)', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V', 94: 'Xtensa' };

/** Checks that `path` is a 32-bit little-endian Arm ELF, as a firmware for a Cortex-M is. */
export function checkArmElf(path: string): void {
  const header = Buffer.alloc(20);
  let n: number;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${describeError(err)}`);
  }
  if (n < header.length || header.readUInt32BE(0) !== 0x7f454c46) {
    throw new UserError(
      `${path} is not an ELF file. --method openocd needs the ${FIRMWARE_FILE_NAMES.elf} that llama2-embed build --target rp2040 writes.`,
    );
  }
  const machine = header.readUInt16LE(18);
  if (header[4] !== 1 || header[5] !== 1 || machine !== 40) {
    const name = ELF_MACHINES[machine] ?? `machine ${machine}`;
    throw new UserError(
      `${path} is an ELF for ${name}, not a 32-bit Arm firmware: it was built for another target. Build for the board: llama2-embed build --target rp2040.`,
    );
  }
}
