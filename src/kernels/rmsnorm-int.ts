/** RMSNorm of the integer kernels (Q16.16 in and out), in integers only. */
import { fround, idiv, mulShr, roundHalfAway, sqrtf, toI32 } from './builtins.js';
import type { f64, i32 } from './types.js';

/** 256 · 1e-5 · 2^24: the epsilon of one value, in the units of the Q8 sum of squares, in Q24. */
const EPSILON_Q24_PER_VALUE: f64 = 42949.67296;

/**
 * o[j] = weight[j] · (x[j] / sqrt(mean(x²) + 1e-5)), weight in Q16.16; o may be x itself.
 * The sum of squares ss is kept in Q8 (exact for |x| < 256). The factor
 *   inv = 2^16 / sqrt(ss / (256·size) + 1e-5) = sqrt(size) · 2^20 / sqrt(ss + c),  c = 256·size·1e-5,
 * comes from an integer square root and one division, no floating point (soft float on the M0+):
 * (ss + c) · 4^k brought into [2^28, 2^30) (k may be negative), r = its square root rounded
 * (15 bits: error <= 2^-15), then sqrt(size) · 2^(20+k) / r as a rounded division of 31 bits by r
 * (error <= 2^-16) and a shift. The factor is within 5e-5 of the exact one; an error in it scales
 * the whole vector, which the int8 quantization after it divides out again.
 */
export function rmsnormInt(o: Int32Array, x: Int32Array, weight: Int32Array, size: i32): void {
  let ss: i32 = 0;
  for (let j: i32 = 0; j < size; j++) {
    ss += mulShr(x[j], x[j], 24);
  }
  // c in Q24 and sqrt(size) in Q14: constants once the kernel is specialized
  const epsilonQ24: i32 = toI32(roundHalfAway(size * EPSILON_Q24_PER_VALUE));
  const rootSize: i32 = toI32(roundHalfAway(fround(sqrtf(size) * 16384)));
  // d = (ss + c) · 2^e with e even: the largest e <= 24 that keeps ss · 2^e below 2^29 ...
  let e: i32 = 24;
  while (e > 0 && ss >> (29 - e) > 0) {
    e = e - 2;
  }
  let d: i32 = (ss << e) + (epsilonQ24 >> (24 - e));
  // ... then into [2^28, 2^30), by fours
  while (d >= 1073741824) {
    d = d >> 2;
    e = e - 2;
  }
  while (d < 268435456) {
    d = d << 2;
    e = e + 2;
  }
  const r: i32 = isqrtRound(d);
  // sqrt(size) · 2^(20 + e/2) / r: the numerator as rootSize · 2^b in [2^30, 2^31), one division
  let b: i32 = 0;
  while (rootSize << b < 1073741824) {
    b = b + 1;
  }
  const q: i32 = idiv((rootSize << b) + (r >> 1), r);
  // inv = q · 2^(6 + e/2 - b) (rootSize is 2^14 · sqrt(size)); at most 2^16 / sqrt(1e-5) < 2^25
  const s: i32 = 6 + (e >> 1) - b;
  const invFixed: i32 = s >= 0 ? q << s : (q + (1 << (-s - 1))) >> -s;
  for (let j: i32 = 0; j < size; j++) {
    o[j] = mulShr(mulShr(x[j], invFixed, 16), weight[j], 16);
  }
}

/**
 * sqrt(v) rounded to the nearest integer, for 0 <= v < 2^30: the digit-by-digit method, two bits
 * of v per step, in 32-bit integers (root + bit stays below 2^31).
 */
export function isqrtRound(v: i32): i32 {
  let rem: i32 = v;
  let root: i32 = 0;
  let bit: i32 = 268435456; // 4^14, the largest power of four below 2^30
  while (bit > 0) {
    if (rem >= root + bit) {
      rem = rem - root - bit;
      root = (root >> 1) + bit;
    } else {
      root = root >> 1;
    }
    bit = bit >> 2;
  }
  // root = floor(sqrt(v)), rem = v - root²: sqrt(v) >= root + 1/2 exactly when rem > root
  return rem > root ? root + 1 : root;
}
