import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBoot2, firmwareDir } from '../../src/firmware-image/boot2.js';
import { DEFAULT_FLASH_BYTES, parseFlashSize, rp2040LinkerScript } from '../../src/firmware-image/linker-script.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

interface Section {
  name: string;
  size: number;
  vma: number;
  lma: number;
}

/** Section headers of an ELF, from `arm-none-eabi-objdump -h`. */
function sections(elf: string): Section[] {
  const out = spawnSync('arm-none-eabi-objdump', ['-h', elf], { encoding: 'utf8' }).stdout;
  const rows = [...out.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]{8})\s+([0-9a-f]{8})\s+([0-9a-f]{8})/gm)];
  return rows.map((m) => ({ name: m[1], size: parseInt(m[2], 16), vma: parseInt(m[3], 16), lma: parseInt(m[4], 16) }));
}

/** Links crt0.S and boot2 with a C file that stands in for the runtime and the application. */
function link(
  dir: string,
  script: string,
  c: string,
  extraAssembly = '',
  objects: string[] = [],
): { status: number; stderr: string; elf: string } {
  writeFileSync(join(dir, 'memmap.ld'), script);
  buildBoot2({ outFile: join(dir, 'boot2.bin') });
  for (const f of ['crt0.S', 'boot2_image.S']) copyFileSync(join(firmwareDir(), f), join(dir, f));
  writeFileSync(
    join(dir, 'app.c'),
    `#include <stdint.h>
void runtime_init(void) {}
void rp2040_exit(int code) { for (;;) {} }
void exception_report(const uint32_t *frame, uint32_t ipsr) { for (;;) {} }
${c}`,
  );
  writeFileSync(join(dir, 'blob.S'), extraAssembly);
  const elf = join(dir, 'app.elf');
  const result = spawnSync(
    'arm-none-eabi-gcc',
    [
      '-mcpu=cortex-m0plus',
      '-mthumb',
      '-O2',
      '-nostartfiles',
      '-ffunction-sections',
      '-fdata-sections',
      '-Tmemmap.ld',
      '-Wl,--gc-sections',
      '-o',
      elf,
      'crt0.S',
      'boot2_image.S',
      'app.c',
      'blob.S',
      ...objects,
    ],
    { cwd: dir, encoding: 'utf8' },
  );
  return { status: result.status ?? 1, stderr: result.stderr, elf };
}

describe('flash/linker-script', function () {
  needs('arm-none-eabi-gcc');
  this.timeout(60_000);

  it('reads flash sizes as given on a command line', () => {
    expect(parseFlashSize('2M')).to.equal(2 * 1024 * 1024);
    expect(parseFlashSize('2MB')).to.equal(2 * 1024 * 1024);
    expect(parseFlashSize('16MiB')).to.equal(16 * 1024 * 1024);
    expect(parseFlashSize('512k')).to.equal(512 * 1024);
    expect(parseFlashSize('4194304')).to.equal(4 * 1024 * 1024);
    expect(() => parseFlashSize('2 GB')).to.throw(/--flash-size must be a size such as 2M/);
    expect(() => parseFlashSize('32M')).to.throw(/from 64 KiB to 16 MiB/);
    expect(() => parseFlashSize('1000000')).to.throw(/whole number of 4 KiB sectors/);
  });

  it("takes the flash size, defaulting to the Pico's 2 MiB", () => {
    expect(DEFAULT_FLASH_BYTES).to.equal(2 * 1024 * 1024);
    expect(rp2040LinkerScript()).to.match(/FLASH \(rx\)\s+: ORIGIN = 0x10000000, LENGTH = 0x00200000/);
    expect(rp2040LinkerScript({ flashBytes: 16 * 1024 * 1024 })).to.match(/LENGTH = 0x01000000/);
    expect(rp2040LinkerScript()).to.match(/RAM\s+\(rwx\) : ORIGIN = 0x20000000, LENGTH = 0x00042000/);
    expect(rp2040LinkerScript({ stackBytes: 4096 })).to.contain('__stack_limit__ = __stack_top__ - 0x00001000;');
  });

  it('links boot2 at 0x10000000 (256 bytes), the vector table at 0x10000100, the weights 64-byte aligned, the state in SRAM', () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = link(
        dir,
        rp2040LinkerScript(),
        `extern const uint8_t model_weights[];
volatile float run_state[1000];
int main(void) { run_state[3] = model_weights[5]; return (int)run_state[3]; }`,
        `    .section .rodata.model_weights, "a"
    .balign 64
    .global model_weights
model_weights:
    .space 100000, 0x5a
`,
      );
      expect(result.status, result.stderr).to.equal(0);
      const byName = new Map(sections(result.elf).map((s) => [s.name, s]));
      expect(byName.get('.boot2')).to.include({ vma: 0x10000000, size: 256 });
      expect(byName.get('.text')!.vma).to.equal(0x10000100);
      const weights = byName.get('.model_weights')!;
      expect(weights.size).to.equal(100000);
      expect(weights.vma % 64).to.equal(0);
      const text = byName.get('.text')!;
      const rodata = byName.get('.rodata');
      expect(weights.vma).to.be.at.least(text.vma + text.size);
      if (rodata && rodata.size > 0) expect(rodata.vma).to.be.at.least(weights.vma + weights.size);
      const bss = byName.get('.bss')!;
      expect(bss.vma).to.be.at.least(0x20000000);
      expect(bss.size).to.be.at.least(4000);
    } finally {
      cleanup();
    }
  });

  it('puts the code of the objects named in sramCode in .sram_text (SRAM, loaded from flash), the rest in .text', () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'hot.c'), 'int hot(int x) { return x * 3 + 1; }\n');
      const cc = spawnSync(
        'arm-none-eabi-gcc',
        ['-mcpu=cortex-m0plus', '-mthumb', '-O2', '-ffunction-sections', '-c', '-o', 'hot.o', 'hot.c'],
        { cwd: dir, encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).to.equal(0);
      const script = rp2040LinkerScript({ sramCode: ['hot.o'] });
      expect(script).to.contain('EXCLUDE_FILE(*hot.o) .text');
      const result = link(dir, script, `int hot(int x);\nint main(void) { return hot(2); }`, '', ['hot.o']);
      expect(result.status, result.stderr).to.equal(0);
      const byName = new Map(sections(result.elf).map((s) => [s.name, s]));
      const sramText = byName.get('.sram_text')!;
      expect(sramText.vma).to.be.within(0x20000000, 0x20042000);
      expect(sramText.lma).to.be.within(0x10000000, 0x10200000); // crt0 copies it from there
      expect(sramText.size).to.be.at.least(4);
      const nm = spawnSync('arm-none-eabi-nm', [result.elf], { encoding: 'utf8' }).stdout;
      const address = (name: string) => parseInt(new RegExp(`^([0-9a-f]+) T ${name}$`, 'm').exec(nm)![1], 16);
      expect(address('hot')).to.be.within(sramText.vma, sramText.vma + sramText.size);
      expect(address('main')).to.be.within(0x10000100, 0x10200000);
      expect(() => rp2040LinkerScript({ sramCode: ['*'] })).to.throw(/not an object file name/);
    } finally {
      cleanup();
    }
  });

  it('fails the link, saying why, when the state reaches into the stack reserve', () => {
    const { dir, cleanup } = tempDir();
    try {
      // 264 KiB - 8 KiB of stack leaves 256 KiB; ask for 257 KiB.
      const result = link(
        dir,
        rp2040LinkerScript(),
        `volatile uint8_t state[257 * 1024]; int main(void) { state[7] = 1; return state[7]; }`,
      );
      expect(result.status).to.not.equal(0);
      expect(result.stderr).to.match(/SRAM overflow: \.data \+ \.bss \+ \.noinit reach into the 8 KiB stack reserve/);
    } finally {
      cleanup();
    }
  });

  it('fails the link when the image does not fit the flash', () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = link(
        dir,
        rp2040LinkerScript({ flashBytes: 64 * 1024 }),
        `extern const uint8_t model_weights[]; int main(void) { return model_weights[1]; }`,
        `    .section .rodata.model_weights, "a"
    .global model_weights
model_weights:
    .space 70000
`,
      );
      expect(result.status).to.not.equal(0);
      expect(result.stderr).to.match(/will not fit in region `FLASH'|region `FLASH' overflowed/);
    } finally {
      cleanup();
    }
  });
});
