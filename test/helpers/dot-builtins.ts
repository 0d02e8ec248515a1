/**
 * A C program that runs the dot-product builtins (kernel-builtins.h's dot_q8_rows4 and
 * dot_q8_groups) over test vectors and prints their sums, and the lines their TypeScript twins
 * (src/kernels/builtins.ts) give for the same vectors: the specs of each architecture's paths
 * (NEON and SDOT on AArch64, SMLAD on the Arm DSP cores) cross-compile it, run it under an
 * emulator and compare. Rows start at unaligned offsets (x at 3, W at 7 or 5).
 */
import { BUILTINS_PRELUDE } from '../../src/codegen/kernel-compiler.js';
import { dotQ8Groups, dotQ8Rows4 } from '../../src/kernels/builtins.js';

/** One pair of vectors: x (a row's length) and W (four rows of it). */
export interface DotCase {
  name: string;
  x: Int8Array;
  w: Int8Array;
}

/** What to run: the rows' stride, every length n (capped at stride - 7), and dot_q8_groups's group sizes (none: rows4 only). */
export interface DotRuns {
  rowStride: number;
  lengths: readonly number[];
  groupSizes: readonly number[];
}

/**
 * Pseudo-random int8 in [-127, 127] with the extremes planted, and the all-extreme vectors whose
 * products are largest (they would overflow 16-bit sums of three products).
 */
export function dotCases(rowStride: number, seed: number): DotCase[] {
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const random = (length: number) =>
    Int8Array.from({ length }, (_, i) => (i % 29 === 0 ? 127 : i % 31 === 0 ? -127 : (next() % 255) - 127));
  const filled = (length: number, v: number) => new Int8Array(length).fill(v);
  const wLength = rowStride * 4 + 16;
  return [
    { name: 'random', x: random(rowStride), w: random(wLength) },
    { name: 'x = 127, w = 127', x: filled(rowStride, 127), w: filled(wLength, 127) },
    { name: 'x = -127, w = 127', x: filled(rowStride, -127), w: filled(wLength, 127) },
    { name: 'x = -127, w = -127', x: filled(rowStride, -127), w: filled(wLength, -127) },
  ];
}

/** The program: for each case and length, a line `R s0 s1 s2 s3` (dot_q8_rows4), then a line `G …` per group size. */
export function dotProgram(all: DotCase[], runs: DotRuns): string {
  const { rowStride, lengths, groupSizes } = runs;
  const arrays = all.map(
    (c, i) =>
      `static const int8_t x${i}[] = {${Array.from(c.x).join(',')}};\nstatic const int8_t w${i}[] = {${Array.from(c.w).join(',')}};`,
  );
  const groups = groupSizes.length
    ? `static const int group_sizes[] = {${groupSizes.join(', ')}};
            for (unsigned g = 0; g < sizeof group_sizes / sizeof group_sizes[0]; g++) {
                dot_q8_groups(out, xs[c], 3, ws[c], 5, n, group_sizes[g]);
                printf("G");
                for (int k = 0; k * group_sizes[g] < n; k++) printf(" %ld", (long)out[k]);
                printf("\\n");
            }`
    : '';
  return `#include <stdint.h>
#include <stdio.h>
${BUILTINS_PRELUDE}
${arrays.join('\n')}
static const int8_t* const xs[] = {${all.map((_, i) => `x${i}`).join(', ')}};
static const int8_t* const ws[] = {${all.map((_, i) => `w${i}`).join(', ')}};
static const int lengths[] = {${lengths.join(', ')}};
int main(void) {
    int32_t out[${Math.max(4, ...groupSizes.map((g) => Math.ceil(rowStride / g)))}];
    for (unsigned c = 0; c < ${all.length}; c++) {
        for (unsigned i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
            int n = lengths[i] < ${rowStride - 7} ? lengths[i] : ${rowStride - 7};
            dot_q8_rows4(out, xs[c], 3, ws[c], 7, ${rowStride}, n);
            printf("R %ld %ld %ld %ld\\n", (long)out[0], (long)out[1], (long)out[2], (long)out[3]);
            ${groups}
        }
    }
    return 0;
}
`;
}

/** The lines dotProgram prints, computed by the TypeScript twins. */
export function dotExpected(all: DotCase[], runs: DotRuns): string[] {
  const { rowStride, lengths, groupSizes } = runs;
  const out = new Int32Array(Math.max(4, ...groupSizes.map((g) => Math.ceil(rowStride / g))));
  const lines: string[] = [];
  for (const c of all) {
    for (const length of lengths) {
      const n = Math.min(length, rowStride - 7);
      dotQ8Rows4(out, c.x, 3, c.w, 7, rowStride, n);
      lines.push(`R ${Array.from(out.subarray(0, 4)).join(' ')}`);
      for (const gs of groupSizes) {
        dotQ8Groups(out, c.x, 3, c.w, 5, n, gs);
        lines.push(`G ${Array.from(out.subarray(0, Math.ceil(n / gs))).join(' ')}`);
      }
    }
  }
  return lines;
}
