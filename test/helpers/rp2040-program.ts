/**
 * Builds a small RP2040 program from the runtime (firmware/rp2040) and one main.c, the way a
 * generated project is built (memmap.ld, boot2.bin, the runtime's Makefile), and wraps it in UF2.
 * For test firmwares such as test/firmware/usb/main.c.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBoot2, firmwareDir, type Boot2Variant } from '../../src/firmware-image/boot2.js';
import { rp2040LinkerScript } from '../../src/firmware-image/linker-script.js';
import { encodeUf2 } from '../../src/firmware-image/uf2.js';
import { loadTarget } from '../../src/plan/target.js';
import { tempDir } from './fixtures.js';

/** `runtimeSources`: more of firmware/rp2040's files to link, beyond the runtime proper (dot_q8.S, divider.c: what generated projects add). */
export function buildRp2040Program(
  dir: string,
  mainC: string,
  defines: string[] = [],
  runtimeSources: string[] = [],
): { uf2: string; elf: string } {
  const target = loadTarget('rp2040');
  const spec = target.firmware!;
  for (const file of readdirSync(firmwareDir())) copyFileSync(join(firmwareDir(), file), join(dir, file));
  copyFileSync(mainC, join(dir, 'main.c'));
  writeFileSync(join(dir, 'memmap.ld'), rp2040LinkerScript({ flashBytes: spec.flashBytes, stackBytes: spec.stackBytes }));
  buildBoot2({ variant: spec.boot2, outFile: join(dir, 'boot2.bin'), cc: target.toolchain.cc });
  const make = spawnSync(
    'make',
    [
      '-C',
      dir,
      `CFLAGS=${target.toolchain.cflags.join(' ')}`,
      `LDFLAGS=${target.toolchain.ldflags.join(' ')}`,
      `DEFINES=${defines.join(' ')}`,
      `APP_SOURCES=${['main.c', ...runtimeSources].join(' ')}`,
    ],
    { encoding: 'utf8' },
  );
  if (make.status !== 0) throw new Error(`building ${mainC} failed:\n${make.stdout}\n${make.stderr}`);
  const uf2 = join(dir, 'firmware.uf2');
  writeFileSync(uf2, encodeUf2(readFileSync(join(dir, 'firmware.bin'))));
  return { uf2, elf: join(dir, 'firmware.elf') };
}

/**
 * A flash image: our boot2, then a vector table (SP = top of SRAM, reset = `start`) and the given
 * Thumb assembly from 0x10000100. For tests of the emulator harness itself.
 */
export function assemblyImage(assembly: string, variant: Boot2Variant = 'safe'): Buffer {
  const { dir, cleanup } = tempDir('llama2-embed-asm-');
  try {
    writeFileSync(
      join(dir, 'app.S'),
      `    .syntax unified
    .cpu cortex-m0plus
    .thumb
    .text
    .word 0x20042000
    .word start + 1
    .thumb_func
start:
${assembly}
    .ltorg
`,
    );
    const elf = join(dir, 'app.elf');
    const cc = spawnSync(
      'arm-none-eabi-gcc',
      ['-mcpu=cortex-m0plus', '-mthumb', '-nostdlib', '-Wl,-Ttext=0x10000100', '-Wl,--entry=start', '-o', elf, join(dir, 'app.S')],
      { encoding: 'utf8' },
    );
    if (cc.status !== 0) throw new Error(cc.stderr);
    spawnSync('arm-none-eabi-objcopy', ['-O', 'binary', elf, join(dir, 'app.bin')]);
    return Buffer.concat([buildBoot2({ variant }), readFileSync(join(dir, 'app.bin'))]);
  } finally {
    cleanup();
  }
}
