/**
 * Builtins of the kernel subset: the only functions a kernel may call besides other kernels.
 * Each has this portable TypeScript definition and a C definition per target (see doc/kernels.md);
 * the two must agree to the bit.
 */
import type { f32, f64, i32 } from './types.js';

/** Rounds a double to float32 (round to nearest even), as C does when it stores or computes in float. C: `(float)(x)`. */
export const fround = Math.fround;

/** float32 square root; IEEE-754 requires it correctly rounded, so double sqrt then rounding is exact. C: `sqrtf(x)`. */
export function sqrtf(x: f32): f32 {
  return Math.fround(Math.sqrt(x));
}

/** Absolute value. C: `fabsf(x)`. */
export function fabsf(x: f32): f32 {
  return Math.abs(x);
}

/** Largest integral value not greater than x, in double. C: `floor(x)`. */
export function floor(x: f64): f64 {
  return Math.floor(x);
}

/** x · 2^k, correctly rounded, for k in [-1022, 1023] (2^k a normal double; expF32 uses -150..128). C: `ldexp_exact(x, k)` (a multiplication by 2^k, or libm's `ldexp` on the M0+). */
export function ldexp(x: f64, k: i32): f64 {
  return x * 2 ** k;
}

/**
 * Rounds half away from zero, as C's `round()` (C: `round_half_away`), for every double: the fraction is measured exactly
 * (x - trunc(x) has no rounding error), so 0.49999999999999994 gives 0 and -0 stays -0, where
 * floor(x + 0.5) would be wrong.
 */
export function roundHalfAway(x: f64): f64 {
  const whole = Math.trunc(x);
  return Math.abs(x - whole) >= 0.5 ? whole + Math.sign(x) : whole;
}

/** Integer division truncating toward zero, as C's `/` on ints. C: `(a) / (b)`. */
export function idiv(a: i32, b: i32): i32 {
  return Math.trunc(a / b) + 0; // + 0 turns -0 into 0: C integers have no negative zero
}

/** Smaller of two integers. C: a static inline `imin`. */
export function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/**
 * Four int8 dot products sharing one activation vector: out[r] = Σ_k x[xOff + k] · w[wOff + r·rowStride + k]
 * for r = 0..3. Values must lie in [-127, 127]. C: `dot_q8_rows4` in templates/common/kernel-builtins.h,
 * with AVX2 / AVX-512 VNNI, NEON / SDOT and Arm DSP (SXTB16 + SMLAD, Cortex-M4/M7/M33) paths (integer sums are exact
 * in any order, so all paths agree).
 */
export function dotQ8Rows4(out: Int32Array, x: Int8Array, xOff: i32, w: Int8Array, wOff: i32, rowStride: i32, n: i32): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = 0; k < n; k++) {
    const xk = x[xOff + k];
    s0 += xk * w[wOff + k];
    s1 += xk * w[wOff + rowStride + k];
    s2 += xk * w[wOff + 2 * rowStride + k];
    s3 += xk * w[wOff + 3 * rowStride + k];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/**
 * The Q4_0 row pair's dot products (src/kernels/matmul-q4-int.ts has the layout): out[0] and
 * out[1] = Σ_k xw[xOff + k] · n_k over the n columns k of rows 0 and 1 of the pair whose words
 * start at wq[wOff], n_k the stored nibble (0..15, the value + 8: the caller takes 8 · Σ x out).
 * n must be a multiple of 16 and |xw| <= 127 (int8 activations widened to int32). Computed as C
 * does it: word k's nibbles masked by 0x000F000F put column 4k + c of both rows into one number
 * n0 + n1 · 2^16, so one product serves both rows; 16 columns are summed before the halves are
 * taken apart, |Σ x · n| <= 16 · 127 · 15 = 30480 < 2^15 keeping each half exact.
 * C: `dot_q4_pair` in templates/common/kernel-builtins.h, on the Cortex-M0+ the assembly of
 * firmware/rp2040/dot_q4.S (test/firmware/dot-q4.spec.ts checks it against this twin).
 */
export function dotQ4Pair(out: Int32Array, xw: Int32Array, xOff: i32, wq: Int32Array, wOff: i32, n: i32): void {
  let sum0 = 0;
  let sum1 = 0;
  for (let c = 0; c < n; c += 16) {
    let acc = 0;
    for (let k = c; k < c + 16; k += 4) {
      const w = wq[wOff + (k >> 2)];
      acc += xw[xOff + k] * (w & 0x000f000f);
      acc += xw[xOff + k + 1] * ((w >>> 4) & 0x000f000f);
      acc += xw[xOff + k + 2] * ((w >>> 8) & 0x000f000f);
      acc += xw[xOff + k + 3] * ((w >>> 12) & 0x000f000f);
    }
    const low = (acc << 16) >> 16; // the low half, signed
    sum0 += low;
    sum1 += (acc - low) / 65536; // exact: acc - low is a multiple of 2^16 below 2^31
  }
  out[0] = sum0;
  out[1] = sum1;
}

/**
 * A Q4_0 row pair's two outputs (src/kernels/matmul-q4-int.ts, matmulQ4Int): for r = 0, 1,
 * out[outOff + r] = Σ_g mulShr(ws[wsOff + r · groups + g], mulShr(dot_r,g - xw[n + g], xm[g], 16), shift)
 * over the groups g of n columns, dot_r,g = dotQ4Pair's sum of row r over group g (the words from
 * wq[wOff]), xw[n + g] = 8 · Σ x over group g (widenQ4Activation), so that dot - xw[n + g] is the
 * dot product with the values v = nibble - 8. n and the group size must be multiples of 16 (the
 * last group may be shorter).
 * C: `dot_q4_pair_scaled` in templates/common/kernel-builtins.h; on the Cortex-M0+, for groups
 * of 16 or 32 columns (n a multiple) and shifts 1..16, all of it in the assembly of firmware/rp2040/dot_q4.S,
 * where both products are short ones (|dot - bias| <= 32 · 127 · 8 < 2^15, ws below 2^15).
 */
export function dotQ4PairScaled(
  out: Int32Array,
  outOff: i32,
  xw: Int32Array,
  xm: Int32Array,
  wq: Int32Array,
  wOff: i32,
  ws: Int16Array,
  wsOff: i32,
  n: i32,
  groupSize: i32,
  shift: i32,
): void {
  const groups = Math.ceil(n / groupSize);
  const dots = new Int32Array(2);
  let v0 = 0;
  let v1 = 0;
  for (let g = 0; g < groups; g++) {
    const start = g * groupSize;
    dotQ4Pair(dots, xw, start, wq, wOff + (start >> 2), Math.min(groupSize, n - start));
    const bias = xw[n + g];
    const m = xm[g];
    v0 += mulShr(ws[wsOff + g], mulShr(dots[0] - bias, m, 16), shift);
    v1 += mulShr(ws[wsOff + groups + g], mulShr(dots[1] - bias, m, 16), shift);
  }
  out[outOff] = v0;
  out[outOff + 1] = v1;
}

/**
 * The int8 dot products of consecutive groups of one row: out[g] = Σ x[xOff + k] · w[wOff + k] over
 * the columns k of group g (groupSize each, the last one possibly shorter; n columns in all).
 * Values must lie in [-127, 127]. C: `dot_q8_groups` in templates/common/kernel-builtins.h, with an
 * AVX2 / AVX-512 VNNI path that reduces four groups' sums at once and an Arm DSP (SXTB16 + SMLAD) path.
 */
export function dotQ8Groups(out: Int32Array, x: Int8Array, xOff: i32, w: Int8Array, wOff: i32, n: i32, groupSize: i32): void {
  for (let g = 0; g * groupSize < n; g++) {
    let s = 0;
    for (let k = g * groupSize; k < Math.min((g + 1) * groupSize, n); k++) s += x[xOff + k] * w[wOff + k];
    out[g] = s;
  }
}

/**
 * The fixed-point product of the integer kernels: (a · b) / 2^s, rounded to nearest with ties
 * toward +∞, computed exactly in 64 bits. a and b are 32-bit integers, 1 <= s <= 62, and the result
 * must fit 32 bits (a kernel whose values leave that range has overflowed: TypeScript throws where
 * C would wrap). C: `mul_shr` in templates/common/kernel-builtins.h.
 */
export function mulShr(a: i32, b: i32, s: i32): i32 {
  const product = a * b;
  let r: number;
  if (Math.abs(product) < 2 ** 52 && s <= 52) {
    r = Math.floor((product + 2 ** (s - 1)) / 2 ** s); // exact: every step stays below 2^53
  } else {
    r = Number((BigInt(a) * BigInt(b) + (1n << BigInt(s - 1))) >> BigInt(s));
  }
  if (r > 2147483647 || r < -2147483648) throw new RangeError(`mulShr(${a}, ${b}, ${s}) = ${r} does not fit 32 bits`);
  return r;
}

/**
 * A Q16.16 value as float32: x / 2^16 rounded to nearest even, as C's `(float)x * 0x1p-16f` (the
 * conversion rounds once; the power of two scales exactly). C: `fixed_to_f32`, which on the
 * Cortex-M0+ builds the float's bits with integer instructions instead of two soft-float calls.
 */
export function fixedToF32(x: i32): f32 {
  return Math.fround(Math.fround(x) * 2 ** -16);
}

/**
 * a > b on float32 (false when either is NaN). C: `greater_f32`, which on the Cortex-M0+ compares
 * the floats' bits as integers instead of calling libgcc's soft-float comparison: argmax over
 * the logits makes one per vocabulary entry per token.
 */
export function greaterF32(a: f32, b: f32): boolean {
  return a > b;
}

/**
 * An integral double (from roundHalfAway or floor) as a 32-bit integer: C's conversion `(int32_t)(x)`,
 * which truncates; the TypeScript twin refuses fractions and values out of range, where C's
 * conversion would differ or be undefined.
 */
export function toI32(x: f64): i32 {
  if (!Number.isInteger(x) || x > 2147483647 || x < -2147483648) throw new RangeError(`toI32(${x}): not a 32-bit integer`);
  return x + 0; // + 0: no negative zero in C integers
}
