/**
 * boot2: the RP2040's second stage boot loader, the first 256 bytes of flash. The boot ROM
 * copies them to SRAM and runs them only if bytes 252..255 hold the CRC-32 of bytes 0..251
 * (polynomial 0x04c11db7, initial value 0xffffffff, not reflected, no final xor: CRC-32/MPEG-2),
 * stored little-endian. rp2040js skips that check (it has no boot ROM), so the build makes the
 * CRC and the tests check it.
 *
 * `buildBoot2` assembles firmware/rp2040/boot2.S with the cross compiler and returns the
 * 256-byte image with its CRC; the firmware links it in with boot2_image.S.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { UserError } from '../util/errors.js';

/** The size of boot2 in flash, CRC included. */
export const BOOT2_BYTES = 256;
/** The room for boot2's code: what precedes the CRC. */
export const BOOT2_CODE_BYTES = 252;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

/** CRC-32/MPEG-2 of `data` (the boot ROM's CRC). `crc` continues an earlier computation. */
export function crc32Mpeg2(data: Uint8Array, crc = 0xffffffff): number {
  for (let i = 0; i < data.length; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ data[i]) & 0xff];
  return crc >>> 0;
}

/** Pads boot2's code (at most 252 bytes) with zeros to 252 bytes and appends its CRC: 256 bytes. */
export function padBoot2(code: Uint8Array): Buffer {
  if (code.length > BOOT2_CODE_BYTES) {
    throw new UserError(
      `boot2 is ${code.length} bytes but must fit in ${BOOT2_CODE_BYTES} (the last 4 of its 256 hold the CRC); shorten boot2.S.`,
    );
  }
  const image = Buffer.alloc(BOOT2_BYTES);
  image.set(code, 0);
  image.writeUInt32LE(crc32Mpeg2(image.subarray(0, BOOT2_CODE_BYTES)), BOOT2_CODE_BYTES);
  return image;
}

export interface Boot2Check {
  ok: boolean;
  /** The CRC stored in bytes 252..255. */
  stored: number;
  /** The CRC of bytes 0..251. */
  computed: number;
}

/** Reads the boot2 CRC of a flash image (or of boot2 alone): whether the boot ROM would run it. */
export function boot2Crc(image: Uint8Array): Boot2Check {
  if (image.length < BOOT2_BYTES)
    throw new UserError(`a flash image must start with ${BOOT2_BYTES} bytes of boot2, but this one has only ${image.length} bytes.`);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const stored = view.getUint32(BOOT2_CODE_BYTES, true);
  const computed = crc32Mpeg2(image.subarray(0, BOOT2_CODE_BYTES));
  return { ok: stored === computed, stored, computed };
}

/** Throws unless the image starts with a boot2 whose CRC the boot ROM would accept. */
export function checkBoot2(image: Uint8Array, what = 'the flash image'): void {
  const { ok, stored, computed } = boot2Crc(image);
  if (!ok) {
    throw new UserError(
      `${what} has a bad boot2 CRC (stored 0x${hex32(stored)}, bytes 0..251 give 0x${hex32(computed)}): ` +
        'the RP2040 boot ROM would refuse to start it and wait in BOOTSEL mode. Rebuild it so that boot2.bin comes from buildBoot2.',
    );
  }
}

export type Boot2Variant = 'safe' | 'fast' | 'quad';
export const BOOT2_VARIANTS: readonly Boot2Variant[] = ['safe', 'fast', 'quad'];

export interface Boot2BuildOptions {
  /** `safe`: serial 03h reads, SCLK = clk_sys/4. `fast`: dual-output 3Bh reads, SCLK = clk_sys/2. */
  variant?: Boot2Variant;
  /** Where to write the 256-byte image (boot2.bin), if anywhere. */
  outFile?: string;
  /** The cross compiler (its objcopy is found beside it by name). */
  cc?: string;
  /** boot2.S to assemble; default firmware/rp2040/boot2.S. */
  source?: string;
}

/** The directory of a chip's firmware runtime sources in this package (firmware/rp2040/: boot2.S, main.c, …). */
export function firmwareDir(chip = 'rp2040'): string {
  return join(projectRoot(), 'firmware', chip);
}

/** Assembles boot2.S, checks that it fits, and returns it padded with its CRC (256 bytes). */
export function buildBoot2(options: Boot2BuildOptions = {}): Buffer {
  const variant = options.variant ?? 'safe';
  if (!BOOT2_VARIANTS.includes(variant))
    throw new UserError(`boot2 variant must be one of ${BOOT2_VARIANTS.join(', ')}, got "${variant}".`, 2);
  const cc = options.cc ?? 'arm-none-eabi-gcc';
  const objcopy = cc.replace(/gcc$/, 'objcopy');
  const source = options.source ?? join(firmwareDir(), 'boot2.S');
  const work = mkdtempSync(join(tmpdir(), 'llama2-embed-boot2-'));
  try {
    const elf = join(work, 'boot2.elf');
    const raw = join(work, 'boot2.raw');
    // Linked where the boot ROM runs it (the code is position independent, so this only matters for the disassembly).
    run(cc, [
      '-mcpu=cortex-m0plus',
      '-mthumb',
      '-nostdlib',
      '-nostartfiles',
      ...(variant === 'fast' ? ['-DBOOT2_FAST'] : variant === 'quad' ? ['-DBOOT2_QUAD'] : []),
      '-Wl,-Ttext=0x20041f00',
      '-Wl,--entry=boot2_entry',
      '-o',
      elf,
      source,
    ]);
    run(objcopy, ['-O', 'binary', '-j', '.text', elf, raw]);
    const image = padBoot2(readFileSync(raw));
    if (options.outFile) writeFileSync(options.outFile, image);
    return image;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) {
    throw new UserError(
      `${command} was not found; it is needed to assemble boot2. Install it: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi (Debian/Ubuntu).`,
    );
  }
  if (result.status !== 0) throw new UserError(`${command} ${args.join(' ')} failed (exit code ${result.status}):\n${result.stderr}`);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
