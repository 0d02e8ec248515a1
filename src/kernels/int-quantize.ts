/**
 * Activation quantization of the integer kernels: Q16.16 activations to int8 groups, with no
 * floating point (the RP2040 has no FPU). See doc/kernels.md, "Integer mode".
 */
import { idiv, imin } from './builtins.js';
import type { i32 } from './types.js';

/**
 * Quantizes x (n values, Q16.16) in groups of `groupSize` (the last may be shorter):
 * xm[g] = M = max |x| over the group, xq[j] ≈ round(x[j] · 127 / M), so that
 * x[j] ≈ xq[j] · M / 127. An all-zero group gets M = 0 and zeros.
 * No division per value: M and |x| are shifted together so that M has 16 bits, d in
 * [2^15, 2^16), and with r = round(127 · 2^24 / d) (one division per group), xq = (a · r + 2^23) >> 24,
 * within 31 bits since a · r <= d · r ≈ 127 · 2^24. It differs from round(x · 127 / M) by the bits
 * of |x| below M's 16 (M / 2^15 at most) and r's rounding (1/500 of a step); the group max gives 127.
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
    if (m === 0) {
      for (let j: i32 = start; j < end; j++) {
        xq[j] = 0;
      }
    } else {
      let down: i32 = 0;
      while (m >> down >= 65536) {
        down = down + 1;
      }
      let up: i32 = 0;
      while (m << up < 32768) {
        up = up + 1;
      }
      const d: i32 = (m >> down) << up;
      const r: i32 = idiv(2130706432 + (d >> 1), d);
      for (let j: i32 = start; j < end; j++) {
        const a: i32 = ((x[j] < 0 ? -x[j] : x[j]) >> down) << up;
        const q: i32 = (a * r + 8388608) >> 24;
        xq[j] = x[j] < 0 ? -q : q;
      }
    }
  }
}
