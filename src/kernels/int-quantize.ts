/**
 * Activation quantization of the integer kernels: Q16.16 activations to int8 groups, with no
 * floating point (the RP2040 has no FPU). See doc/kernels.md, "Integer mode".
 */
import { idiv, imin } from './builtins.js';
import type { i32 } from './types.js';

/**
 * Quantizes x (n values, Q16.16) in groups of `groupSize` (the last may be shorter):
 * xm[g] = M = max |x| over the group, xq[j] = round(x[j] · 127 / M), half away from zero, so that
 * x[j] ≈ xq[j] · M / 127. An all-zero group gets M = 0 and zeros.
 * When M >= 2^23 (activations of 128 and more), x and M lose their low bits first so that
 * 254 · |x| + M stays within 32 bits.
 */
export function quantizeQ8Int(xq: Int8Array, xm: Int32Array, x: Int32Array, n: i32, groupSize: i32): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  for (let g: i32 = 0; g < groups; g++) {
    const start: i32 = g * groupSize;
    const end: i32 = imin(start + groupSize, n);
    let m: i32 = 0;
    for (let j: i32 = start; j < end; j++) {
      const a: i32 = x[j] < 0 ? -x[j] : x[j];
      if (a > m) m = a;
    }
    xm[g] = m;
    let shift: i32 = 0;
    while (m >> shift >= 8388608) {
      shift = shift + 1;
    }
    const d: i32 = m >> shift;
    for (let j: i32 = start; j < end; j++) {
      if (d === 0) {
        xq[j] = 0;
      } else {
        const a: i32 = (x[j] < 0 ? -x[j] : x[j]) >> shift;
        const q: i32 = idiv(254 * a + d, 2 * d);
        xq[j] = x[j] < 0 ? -q : q;
      }
    }
  }
}
