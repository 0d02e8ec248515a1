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
    const m: i32 = maxAbs(x, start, end);
    xm[g] = m;
    quantizeGroup(xq, x, start, end, m);
  }
}

/**
 * Like quantizeQ8Int, for the int8 KV cache: each group's scale is stored as a one-byte code c,
 * the scale being scaleTable[c] (kvScaleTable: 0, then 2^((c-1)/8), rising by 2^(1/8) from code
 * to code), the smallest entry not below the group's max. The values are quantized against that
 * scale, so the max gives 127 / 2^(1/8) = 117 at worst (a tenth of a bit), and a scale takes one
 * byte instead of four: a quarter of the SRAM. The code is found by a binary search of the table.
 */
export function quantizeKvInt(xq: Int8Array, codes: Uint8Array, x: Int32Array, n: i32, groupSize: i32, scaleTable: Int32Array): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  for (let g: i32 = 0; g < groups; g++) {
    const start: i32 = g * groupSize;
    const end: i32 = imin(start + groupSize, n);
    const m: i32 = maxAbs(x, start, end);
    // the smallest code whose scale is >= m: the table rises, its last entry is 2^31 - 1
    let low: i32 = 0;
    let high: i32 = 255;
    while (low < high) {
      const mid: i32 = (low + high) >> 1;
      if (scaleTable[mid] >= m) {
        high = mid;
      } else {
        low = mid + 1;
      }
    }
    codes[g] = low;
    quantizeGroup(xq, x, start, end, scaleTable[low]);
  }
}

/** max |x[j]| for j in [start, end). */
function maxAbs(x: Int32Array, start: i32, end: i32): i32 {
  let m: i32 = 0;
  for (let j: i32 = start; j < end; j++) {
    const a: i32 = x[j] < 0 ? -x[j] : x[j];
    if (a > m) m = a;
  }
  return m;
}

/** xq[j] ≈ round(x[j] · 127 / m) for j in [start, end), m >= max |x[j]| (m = 0: zeros). */
function quantizeGroup(xq: Int8Array, x: Int32Array, start: i32, end: i32, m: i32): void {
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
