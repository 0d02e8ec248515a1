/** RMSNorm of the integer kernels (Q16.16 in and out): integer sums, one float32 step per vector. */
import { fround, mulShr, roundHalfAway, sqrtf, toI32 } from './builtins.js';
import type { f32, i32 } from './types.js';

const EPSILON_INT: f32 = fround(1e-5); // C: 1e-5f

/**
 * o[j] = weight[j] · (x[j] / sqrt(mean(x²) + 1e-5)), weight in Q16.16; o may be x itself.
 * The sum of squares is kept in Q8 (exact for |x| < 256); the inverse square root is computed once
 * per vector in float32 (a few soft-float operations on a core without an FPU) and applied in
 * Q16.16. An error in that one factor scales the whole vector, which the int8 quantization after
 * it divides out again.
 */
export function rmsnormInt(o: Int32Array, x: Int32Array, weight: Int32Array, size: i32): void {
  let ss: i32 = 0;
  for (let j: i32 = 0; j < size; j++) {
    ss += mulShr(x[j], x[j], 24);
  }
  const mean: f32 = fround(fround(fround(ss) * fround(0.00390625)) / size);
  const inv: f32 = fround(1 / sqrtf(fround(mean + EPSILON_INT)));
  const invFixed: i32 = toI32(roundHalfAway(fround(inv * 65536)));
  for (let j: i32 = 0; j < size; j++) {
    o[j] = mulShr(mulShr(x[j], invFixed, 16), weight[j], 16);
  }
}
