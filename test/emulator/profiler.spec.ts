/**
 * The PC-sampling profiler (src/emulator/profiler.ts) and the ELF reader under it
 * (src/emulator/elf-symbols.ts): the symbol table read in TypeScript agrees with the toolchain's
 * readelf; addresses map to the function containing them; kernels inlined into forward() are
 * told apart through the debug information; soft-float routines count for the kernel that called
 * them. The firmware here is a small C program with a matmul inlined into forward(), an attention
 * kept out of line, and soft-float multiplies inside the matmul.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { functionAt, inlinedAt, readElfFunctions } from '../../src/emulator/elf-symbols.js';
import { baseName, classifyChain, isRuntimeHelper, isSoftFloat, PcProfiler } from '../../src/emulator/profiler.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { buildBoot2 } from '../../src/firmware-image/boot2.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const START = `    .syntax unified
    .cpu cortex-m0plus
    .thumb
    .section .text.startup, "ax"   @ placed first: main() is in .text.startup too, after this file's
    .word 0x20042000
    .word start + 1
    .thumb_func
    .global start
start:
    bl main
    bkpt #0
`;

const MAIN_C = `
#include <stdint.h>
volatile int32_t data[64];
volatile float result;

static inline __attribute__((always_inline)) float matmul_rows(const volatile int32_t* w, int n, float scale) {
    float acc = 0.0f;
    for (int i = 0; i < n; i++) acc = acc + (float)w[i & 63] * scale; /* __aeabi_i2f, __aeabi_fmul, __aeabi_fadd */
    return acc;
}

__attribute__((noinline)) int32_t attention_heads(const volatile int32_t* k, int n) {
    int32_t s = 0;
    for (int i = 0; i < n; i++) s += k[i & 63] * 3;
    return s;
}

__attribute__((noinline)) float forward(int n) {
    float x = matmul_rows(data, n, 0.5f);
    x = x + (float)attention_heads(data, n);
    return x;
}

int main(void) {
    for (int i = 0; i < 64; i++) data[i] = i - 20;
    result = forward(400);
    return 0;
}
`;

function buildProgram(dir: string): { elf: string; image: Buffer } {
  writeFileSync(join(dir, 'start.S'), START);
  writeFileSync(join(dir, 'main.c'), MAIN_C);
  const elf = join(dir, 'app.elf');
  const cc = spawnSync(
    'arm-none-eabi-gcc',
    [
      '-O2',
      '-g',
      '-mcpu=cortex-m0plus',
      '-mthumb',
      '-nostdlib',
      '-ffreestanding',
      '-Wl,-Ttext=0x10000100',
      '-Wl,-Tbss=0x20000000',
      '-Wl,--entry=start',
      '-o',
      elf,
      join(dir, 'start.S'),
      join(dir, 'main.c'),
      '-lgcc',
    ],
    { encoding: 'utf8' },
  );
  if (cc.status !== 0) throw new Error(cc.stderr);
  spawnSync('arm-none-eabi-objcopy', ['-O', 'binary', '-j', '.text', '-j', '.rodata', elf, join(dir, 'app.bin')]);
  return { elf, image: Buffer.concat([buildBoot2(), readFileSync(join(dir, 'app.bin'))]) };
}

/** FUNC symbols as arm-none-eabi-readelf lists them. */
function readelfFunctions(elf: string): { name: string; address: number; size: number }[] {
  const r = spawnSync('arm-none-eabi-readelf', ['-sW', elf], { encoding: 'utf8' });
  const out: { name: string; address: number; size: number }[] = [];
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[3] === 'FUNC') out.push({ name: f[7], address: parseInt(f[1], 16) & ~1, size: Number(f[2]) });
  }
  return out;
}

describe('emulator/profiler: PC samples mapped to kernels', function () {
  needs('arm-none-eabi-gcc');
  this.timeout(120_000);
  const tmp = tempDir('llama2-embed-profiler-');
  let program: { elf: string; image: Buffer };
  before(() => {
    program = buildProgram(tmp.dir);
  });
  after(() => tmp.cleanup());

  it('reads the ELF symbol table as readelf does', () => {
    const { functions, hasDebugInfo } = readElfFunctions(program.elf);
    expect(hasDebugInfo).to.equal(true);
    const expected = readelfFunctions(program.elf);
    expect(expected.length).to.be.greaterThan(5);
    for (const f of expected) {
      const found = functions.find((g) => g.address === f.address);
      expect(found, f.name).to.not.equal(undefined);
      expect(found!.size, f.name).to.equal(f.size);
    }
    expect(functions.map((f) => f.name)).to.include.members(['main', 'forward', 'attention_heads', '__aeabi_fmul', 'start']);
    expect(() => readElfFunctions(Buffer.from('not an elf at all, not at all, no no no no no no no no no'))).to.throw(/not an ELF file/);
  });

  it('maps an address to the function containing it, and not past its end', () => {
    const { functions } = readElfFunctions(program.elf);
    const attention = functions.find((f) => f.name === 'attention_heads')!;
    expect(functionAt(functions, attention.address)?.name).to.equal('attention_heads');
    expect(functionAt(functions, attention.address + attention.size - 2)?.name).to.equal('attention_heads');
    expect(functionAt(functions, attention.address + attention.size)?.name).to.not.equal('attention_heads');
    expect(functionAt(functions, 0x100)).to.equal(undefined);
  });

  it('sees the matmul inlined into forward() through the debug information', () => {
    const { functions } = readElfFunctions(program.elf);
    const forward = functions.find((f) => f.name === 'forward')!;
    const addresses: number[] = [];
    for (let a = forward.address; a < forward.address + forward.size; a += 2) addresses.push(a);
    const chains = inlinedAt(program.elf, addresses);
    const inlined = [...chains.values()].filter((c) => c[0] === 'matmul_rows');
    expect(inlined.length).to.be.greaterThan(0);
    expect(inlined[0][inlined[0].length - 1]).to.equal('forward');
  });

  it('groups names: matmul, attention, the rest; helpers and soft float by name', () => {
    expect(classifyChain(['dot_q8_rows4', 'matmul_q8_64x64x64', 'matmul_64x64_q8_0_rows'])).to.deep.equal({
      category: 'matmul',
      kernel: 'matmul_64x64_q8_0_rows',
    });
    expect(classifyChain(['exp_f32', 'softmax', 'attention_8x8x32x2x191', 'forward'])).to.deep.equal({
      category: 'attention',
      kernel: 'attention_8x8x32x2x191',
    });
    expect(classifyChain(['rmsnorm_64', 'forward'])).to.deep.equal({ category: 'rest', kernel: 'rmsnorm_64' });
    expect(classifyChain(['softmax', 'sample_next', 'main'])).to.deep.equal({ category: 'rest', kernel: 'sample_next' });
    expect(classifyChain(['forward'])).to.deep.equal({ category: 'rest', kernel: 'forward' });
    expect(baseName('matmul_q8_172x64x64.constprop.0')).to.equal('matmul_q8_172x64x64');
    expect(baseName('exp_f32.part.0')).to.equal('exp_f32');
    for (const name of [
      '__aeabi_fmul',
      '__aeabi_fadd',
      '__aeabi_i2f',
      '__aeabi_fcmplt',
      '__aeabi_d2f',
      '__mulsf3',
      '__ltsf2',
      '__ieee754_sqrtf',
    ])
      expect(isSoftFloat(name), name).to.equal(true);
    for (const name of ['__aeabi_uidiv', '__aeabi_idivmod', '__aeabi_uldivmod', '__udivsi3', 'matmul_q8_64x64', 'floor'])
      expect(isSoftFloat(name), name).to.equal(false);
    for (const name of ['__aeabi_uidiv', 'floor', 'roundf', 'memset', '__aeabi_fmul']) expect(isRuntimeHelper(name), name).to.equal(true);
    expect(isRuntimeHelper('forward')).to.equal(false);
  });

  it('counts samples for the kernel that ran, soft-float calls for their caller', async () => {
    const profiler = new PcProfiler(program.elf);
    const { functions } = readElfFunctions(program.elf);
    const fmul = functions.find((f) => f.name === '__aeabi_fmul')!;
    expect(profiler.siteAt(fmul.address)).to.include({ needsCaller: true });
    const attention = functions.find((f) => f.name === 'attention_heads')!;
    expect(profiler.siteAt(attention.address + 4)).to.include({ category: 'attention', kernel: 'attention_heads', needsCaller: false });

    const emu = Rp2040Emulator.fromImage(program.image, undefined, { profile: { elf: program.elf, intervalCycles: 101 } });
    const run = await emu.run({ maxSeconds: 30 });
    expect(run).to.include({ reason: 'break', exitCode: 0 });
    const profile = emu.profile!;
    expect(profile.samples).to.be.within(run.cycles / 101 - 2, run.cycles / 101 + 2);
    expect(profile.counts.unattributed).to.equal(0);
    expect(profile.shares.matmul).to.be.greaterThan(0.7); // 400 soft-float multiply-adds against 400 integer ones
    expect(profile.shares.attention).to.be.within(0.02, 0.2);
    const matmul = profile.rows.find((r) => r.kernel === 'matmul_rows')!;
    expect(matmul.category).to.equal('matmul');
    expect(matmul.softFloatSamples / matmul.samples).to.be.greaterThan(0.5);
    expect(profile.softFloatShare).to.be.greaterThan(0.5);
    expect(profile.rows.find((r) => r.kernel === 'attention_heads')?.softFloatSamples).to.equal(0);
  });
});
