/**
 * The dot-product builtins' Arm DSP path (SXTB16 + SMLAD, kernel-builtins.h's DOT_Q8_DSP) against
 * their TypeScript twins, on the emulated Cortex-M4F, M7 and M33 (qemu-system-arm, mps2-an386,
 * mps2-an500 and mps2-an505): every length up to 40 (the 4-wide steps and the scalar tails), group sizes with
 * short last groups, unaligned offsets, and the extreme values whose products are largest.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTINS_PRELUDE } from '../../src/codegen/kernel-compiler.js';
import { dotQ8Groups, dotQ8Rows4 } from '../../src/kernels/builtins.js';
import { coreByName } from '../../src/library/cores.js';
import { buildForEmulator, runOnEmulator } from '../../src/library/emulator.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const ROW_STRIDE = 200;
const LENGTHS = [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 64, 65, 172, 190];
const GROUP_SIZES = [4, 7, 32, 64];

/** Pseudo-random int8 in [-127, 127] with the extremes planted, and all-extreme vectors. */
function cases(): { x: Int8Array; w: Int8Array }[] {
  let seed = 17;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const random = (length: number) =>
    Int8Array.from({ length }, (_, i) => (i % 29 === 0 ? 127 : i % 31 === 0 ? -127 : (next() % 255) - 127));
  const filled = (length: number, v: number) => new Int8Array(length).fill(v);
  const wLength = ROW_STRIDE * 4 + 16;
  return [
    { x: random(ROW_STRIDE), w: random(wLength) },
    { x: filled(ROW_STRIDE, 127), w: filled(wLength, -127) },
    { x: filled(ROW_STRIDE, -127), w: filled(wLength, -127) },
  ];
}

function program(all: ReturnType<typeof cases>): string {
  const arrays = all.map(
    (c, i) =>
      `static const int8_t x${i}[] = {${Array.from(c.x).join(',')}};\nstatic const int8_t w${i}[] = {${Array.from(c.w).join(',')}};`,
  );
  return `#include <stdint.h>
#include <stdio.h>
${BUILTINS_PRELUDE}
${arrays.join('\n')}
static const int8_t* const xs[] = {${all.map((_, i) => `x${i}`).join(', ')}};
static const int8_t* const ws[] = {${all.map((_, i) => `w${i}`).join(', ')}};
static const int lengths[] = {${LENGTHS.join(', ')}};
static const int group_sizes[] = {${GROUP_SIZES.join(', ')}};
int main(void) {
    int32_t out[64];
    for (unsigned c = 0; c < ${all.length}; c++) {
        for (unsigned i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
            int n = lengths[i] < ${ROW_STRIDE - 7} ? lengths[i] : ${ROW_STRIDE - 7};
            dot_q8_rows4(out, xs[c], 3, ws[c], 7, ${ROW_STRIDE}, n);
            printf("R %ld %ld %ld %ld\\n", (long)out[0], (long)out[1], (long)out[2], (long)out[3]);
            for (unsigned g = 0; g < sizeof group_sizes / sizeof group_sizes[0]; g++) {
                dot_q8_groups(out, xs[c], 3, ws[c], 5, n, group_sizes[g]);
                printf("G");
                for (int k = 0; k * group_sizes[g] < n; k++) printf(" %ld", (long)out[k]);
                printf("\\n");
            }
        }
    }
    return 0;
}
`;
}

function expected(all: ReturnType<typeof cases>): string[] {
  const out = new Int32Array(64);
  const lines: string[] = [];
  for (const c of all) {
    for (const length of LENGTHS) {
      const n = Math.min(length, ROW_STRIDE - 7);
      dotQ8Rows4(out, c.x, 3, c.w, 7, ROW_STRIDE, n);
      lines.push(`R ${Array.from(out.subarray(0, 4)).join(' ')}`);
      for (const gs of GROUP_SIZES) {
        dotQ8Groups(out, c.x, 3, c.w, 5, n, gs);
        lines.push(`G ${Array.from(out.subarray(0, Math.ceil(n / gs))).join(' ')}`);
      }
    }
  }
  return lines;
}

describe('library: the DSP dot products (SXTB16 + SMLAD) on the emulated Cortex-M4F, M7 and M33 equal the TypeScript loops', function () {
  needs('arm-none-eabi-gcc', 'qemu-system-arm');
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  for (const name of ['cortex-m4f', 'cortex-m7', 'cortex-m33']) {
    it(`${name}: dot_q8_rows4 and dot_q8_groups, every length and group size`, () => {
      const all = cases();
      // no library: the program is the builtins alone
      const dir = join(tmp.dir, name);
      mkdirSync(join(dir, 'src'), { recursive: true });
      mkdirSync(join(dir, 'include'), { recursive: true });
      const source = join(dir, 'dot.c');
      writeFileSync(source, program(all));
      const core = coreByName(name);
      const elf = join(dir, 'dot.elf');
      buildForEmulator({ libraryDir: dir, core, program: source, args: [], elf });
      const disassembly = spawnSync('arm-none-eabi-objdump', ['-d', elf], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout;
      expect(disassembly, 'the DSP path was compiled').to.match(/\tsmlad\t/);
      expect(disassembly).to.match(/\tsxtb16\t.*ror #8/);
      const run = runOnEmulator(core, elf, []);
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stdout.trimEnd().split('\n')).to.deep.equal(expected(all));
    });
  }
});
