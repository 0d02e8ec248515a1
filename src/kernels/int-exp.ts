/** The exponential of the integer kernels, from a 65-entry table of powers of two. */
import { mulShr } from './builtins.js';
import type { i32 } from './types.js';

/** log2(e) in Q2.30. */
const LOG2E_Q30: i32 = 1549082005;

/**
 * e^(-d) in Q2.30 for d >= 0 in Q16.16: y = d · log2(e), then 2^-y = 2^-whole(y) · 2^-frac(y), the
 * fraction from table[i] = round(2^(-i/64) · 2^30), i = 0..64, interpolated linearly between
 * entries (relative error below 2e-5). Zero from d = 32 on (e^-32 < 2^-46).
 */
export function expNegInt(d: i32, table: Int32Array): i32 {
  if (d >= 2097152) return 0;
  const y: i32 = mulShr(d, LOG2E_Q30, 30);
  const whole: i32 = y >> 16;
  const frac: i32 = y & 65535;
  const i: i32 = frac >> 10;
  const a: i32 = table[i];
  const v: i32 = a - mulShr(a - table[i + 1], frac & 1023, 10);
  if (whole === 0) return v;
  if (whole >= 31) return 0;
  return (v + (1 << (whole - 1))) >> whole;
}
