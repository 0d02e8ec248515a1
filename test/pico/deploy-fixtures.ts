/** Firmware files and fake boot drives for the deploy specs. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { padBoot2 } from '../../src/firmware-image/boot2.js';
import { encodeUf2, RP2040_FAMILY_ID } from '../../src/firmware-image/uf2.js';

export function tempDir(prefix = 'deploy-'): string {
  return mkdtempSync(join(tmpdir(), `llama2-embed-${prefix}`));
}

function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A flash image that starts with a boot2 whose CRC the boot ROM accepts. */
export function flashImage(bytes = 40_000, seed = 7): Buffer {
  const image = pseudoRandom(bytes, seed);
  padBoot2(Buffer.from('boot2 of a test firmware')).copy(image, 0);
  return image;
}

export function uf2File(
  dir: string,
  options: { familyId?: number; bytes?: number; name?: string; image?: Buffer } = {},
): { path: string; data: Buffer } {
  const data = encodeUf2(options.image ?? flashImage(options.bytes), { familyId: options.familyId ?? RP2040_FAMILY_ID });
  const path = join(dir, options.name ?? 'firmware.uf2');
  writeFileSync(path, data);
  return { path, data };
}

/** A minimal 32-bit little-endian ELF header for machine `machine` (40: Arm). */
export function elfFile(path: string, machine = 40, elfClass = 1): string {
  const header = Buffer.alloc(52);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = elfClass;
  header[5] = 1; // little-endian
  header[6] = 1;
  header.writeUInt16LE(2, 16); // executable
  header.writeUInt16LE(machine, 18);
  writeFileSync(path, header);
  return path;
}

/** A directory that looks like a mounted boot drive (INFO_UF2.TXT, INDEX.HTM). */
export function fakeBootDrive(parent: string, options: { name?: string; boardId?: string; infoName?: string } = {}): string {
  const dir = join(parent, options.name ?? 'RPI-RP2');
  mkdirSync(dir, { recursive: true });
  const boardId = options.boardId ?? 'RPI-RP2';
  writeFileSync(
    join(dir, options.infoName ?? 'INFO_UF2.TXT'),
    `UF2 Bootloader v3.0\r\nModel: Raspberry Pi ${boardId === 'RPI-RP2' ? 'RP2' : boardId}\r\nBoard-ID: ${boardId}\r\n`,
  );
  writeFileSync(
    join(dir, 'INDEX.HTM'),
    '<html><head><meta http-equiv="refresh" content="0;URL=\'https://raspberrypi.com/device/RP2?version=E0C9125B0D9B\'"/></head></html>\n',
  );
  return dir;
}

/**
 * Plays the boot ROM: waits until `name` on the drive holds `expected.length` bytes, keeps a
 * copy of what arrived, then "reboots": the drive directory goes away.
 */
export function ejectWhenComplete(
  drive: string,
  name: string,
  expectedBytes: number,
  options: { timeoutMs?: number } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      let size = -1;
      try {
        size = statSync(join(drive, name)).size;
      } catch {
        /* not yet */
      }
      if (size === expectedBytes) {
        clearInterval(timer);
        const received = readFileSync(join(drive, name));
        rmSync(drive, { recursive: true, force: true });
        resolve(received);
      } else if (Date.now() - started > (options.timeoutMs ?? 10_000)) {
        clearInterval(timer);
        reject(new Error(`the fake drive never received ${expectedBytes} bytes (it has ${size})`));
      }
    }, 5);
  });
}
