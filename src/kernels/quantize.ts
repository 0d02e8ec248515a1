/** Activation quantization to Q8_0 before an int8 matmul (llama2.c runq.c `quantize`). */
import { fround, fabsf, idiv, imin, roundHalfAway } from './builtins.js';
import type { f32, i32 } from './types.js';

/**
 * Quantizes x (n values) in groups of `groupSize` (the last may be shorter): scale = max|x| / 127,
 * q = round(x / scale), rounding half away from zero as C's `round()`. An all-zero group gets
 * scale 0 and zeros (where runq.c would divide 0 by 0).
 */
export function quantizeQ8(xq: Int8Array, xs: Float32Array, x: Float32Array, n: i32, groupSize: i32): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  for (let g: i32 = 0; g < groups; g++) {
    const start: i32 = g * groupSize;
    const end: i32 = imin(start + groupSize, n);
    let wmax: f32 = 0;
    for (let j: i32 = start; j < end; j++) {
      const v: f32 = fabsf(x[j]);
      if (v > wmax) wmax = v;
    }
    const scale: f32 = fround(wmax / 127);
    xs[g] = scale;
    for (let j: i32 = start; j < end; j++) {
      xq[j] = scale > 0 ? roundHalfAway(fround(x[j] / scale)) : 0;
    }
  }
}
