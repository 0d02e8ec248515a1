/** The exponential of the integer kernels, from a 65-entry table of powers of two, in 32-bit arithmetic. */
import type { i32 } from './types.js';

/** log2(e) in Q23 (relative error 4e-8); 127 times it fits 31 bits. */
const LOG2E_Q23: i32 = 12102203;

/**
 * 2^(-y) in Q2.30 for y >= 0 in Q16.16: 2^-whole(y) · 2^-frac(y), the fraction from
 * table[i] = round(2^(-i/64) · 2^27), i = 0..64, interpolated linearly between entries (relative
 * error below 1.2e-5). The table is in Q5.27 so that an entry's difference to the next (< 2^21)
 * times the 10-bit position fits 32 bits: a core without a 64-bit multiply does it in a few
 * instructions.
 */
export function exp2NegInt(y: i32, table: Int32Array): i32 {
  const whole: i32 = y >> 16;
  if (whole >= 31) return 0;
  const frac: i32 = y & 65535;
  const i: i32 = frac >> 10;
  const a: i32 = table[i];
  const v: i32 = (a - (((a - table[i + 1]) * (frac & 1023) + 512) >> 10)) << 3;
  if (whole === 0) return v;
  return (v + (1 << (whole - 1))) >> whole;
}

/**
 * e^(-d) in Q2.30 for d >= 0 in Q16.16: 2^(-d · log2 e), the product d · log2 e taken 7 bits of d
 * at a time so that every step fits 32 bits, rounded once to Q16 (relative error of the result
 * below 2e-5). Zero from d = 32 on (e^-32 < 2^-46).
 */
export function expNegInt(d: i32, table: Int32Array): i32 {
  if (d >= 2097152) return 0;
  const low: i32 = (d & 127) * LOG2E_Q23;
  const middle: i32 = ((d >> 7) & 127) * LOG2E_Q23 + (low >> 7);
  const high: i32 = (d >> 14) * LOG2E_Q23 + (middle >> 7);
  return exp2NegInt((high + 256) >> 9, table);
}
