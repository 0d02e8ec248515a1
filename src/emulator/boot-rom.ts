/**
 * The RP2040's boot ROM image, for booting firmware in the emulator as the chip boots. The
 * project does not ship it (see ../shared/rp2040/README.md): it looks for bootrom-b1.bin in
 * ../shared/rp2040/ beside the project checkout, and checks that the file is a boot ROM: 16 KiB,
 * with the bytes 'M', 'u', 1 at 0x10 (the ROM's magic and version, RP2040 datasheet 2.8.2).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { UserError } from '../util/errors.js';

export const BOOT_ROM_BYTES = 16 * 1024;
/** Where the project expects the ROM image. */
export function defaultBootRomPath(): string {
  return resolve(projectRoot(), '..', 'shared', 'rp2040', 'bootrom-b1.bin');
}

/** Whether a boot ROM image is where the project expects it (or at `path`). */
export function bootRomAvailable(path = defaultBootRomPath()): boolean {
  return existsSync(path);
}

/** Throws unless `bytes` look like an RP2040 boot ROM. */
export function checkBootRom(bytes: Uint8Array, what: string): void {
  const where = `The emulator boots through the RP2040 boot ROM image it expects at ${defaultBootRomPath()} (bootrom-b1.bin, see ../shared/rp2040/README.md); use --no-bootrom to start the firmware without it.`;
  if (bytes.length !== BOOT_ROM_BYTES)
    throw new UserError(`${what} is ${bytes.length} bytes, but an RP2040 boot ROM is ${BOOT_ROM_BYTES}. ${where}`);
  if (bytes[0x10] !== 0x4d || bytes[0x11] !== 0x75 || bytes[0x12] !== 1) {
    const found = Array.from(bytes.subarray(0x10, 0x13), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new UserError(`${what} is not an RP2040 boot ROM: it has ${found} at 0x10 instead of 4d 75 01 ('M', 'u', version 1). ${where}`);
  }
}

/** Reads and checks the boot ROM image (default: where the project expects it). */
export function readBootRom(path = defaultBootRomPath()): Uint8Array {
  if (!existsSync(path)) {
    throw new UserError(
      `no RP2040 boot ROM image at ${path}. The emulator boots through the ROM when it finds bootrom-b1.bin there (see ../shared/rp2040/README.md); use --no-bootrom to start the firmware without it.`,
    );
  }
  const bytes = readFileSync(path);
  checkBootRom(bytes, path);
  return bytes;
}
