/**
 * Builds a small RP2040 program from the runtime (firmware/rp2040) and one main.c, the way a
 * generated project is built (memmap.ld, boot2.bin, the runtime's Makefile), and wraps it in UF2.
 * For test firmwares such as test/firmware/usb/main.c.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBoot2, firmwareDir } from '../../src/flash/boot2.js';
import { rp2040LinkerScript } from '../../src/flash/linker-script.js';
import { encodeUf2 } from '../../src/flash/uf2.js';
import { loadTarget } from '../../src/plan/target.js';

export function buildRp2040Program(dir: string, mainC: string, defines: string[] = []): { uf2: string; elf: string } {
  const target = loadTarget('rp2040');
  const spec = target.firmware!;
  for (const file of readdirSync(firmwareDir())) copyFileSync(join(firmwareDir(), file), join(dir, file));
  copyFileSync(mainC, join(dir, 'main.c'));
  writeFileSync(join(dir, 'memmap.ld'), rp2040LinkerScript({ flashBytes: spec.flashBytes, stackBytes: spec.stackBytes }));
  buildBoot2({ variant: spec.boot2, outFile: join(dir, 'boot2.bin'), cc: target.toolchain.cc });
  const make = spawnSync(
    'make',
    ['-C', dir, `CFLAGS=${target.toolchain.cflags.join(' ')}`, `LDFLAGS=${target.toolchain.ldflags.join(' ')}`, `DEFINES=${defines.join(' ')}`, 'APP_SOURCES=main.c'],
    { encoding: 'utf8' },
  );
  if (make.status !== 0) throw new Error(`building ${mainC} failed:\n${make.stdout}\n${make.stderr}`);
  const uf2 = join(dir, 'firmware.uf2');
  writeFileSync(uf2, encodeUf2(readFileSync(join(dir, 'firmware.bin'))));
  return { uf2, elf: join(dir, 'firmware.elf') };
}
