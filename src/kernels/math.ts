/**
 * Transcendental functions, computed from basic IEEE operations only, so that TypeScript and
 * every C target produce the same bits (no platform libm is involved).
 */
import { fround, floor, ldexp } from './builtins.js';
import type { f32, f64 } from './types.js';

const LOG2E: f64 = 1.4426950408889634;
// ln 2 split into a high part whose last 21 mantissa bits are zero (so k · LN2_HI is exact for
// the |k| <= 150 used here) and the remainder.
const LN2_HI: f64 = 0.6931471803691238;
const LN2_LO: f64 = 1.9082149292705877e-10;

/** Above ln(FLT_MAX) e^x overflows float32; below ln of half the smallest subnormal it is 0. */
const EXP_MAX: f32 = 88.72283935546875;
const EXP_MIN: f32 = -103.97208404541016;

/**
 * e^x rounded to float32. Range reduction x = k·ln2 + r with |r| <= ln2/2, then a degree-11 Taylor
 * polynomial for e^r in double (relative error below 1e-14, so the float result is the correctly
 * rounded one except within 1e-7 ULP of a tie), then scaling by 2^k. Written without branches (x
 * clamped first, so that k stays in ldexp's range; the out-of-range answers chosen at the end), so
 * that a loop of exponentials vectorizes.
 */
export function expF32(x: f32): f32 {
  const xc: f32 = x > EXP_MAX ? EXP_MAX : x < EXP_MIN ? EXP_MIN : x;
  const k: f64 = floor(xc * LOG2E + 0.5);
  const r: f64 = xc - k * LN2_HI - k * LN2_LO;
  let p: f64 = 2.505210838544172e-8; // 1/11!
  p = p * r + 2.755731922398589e-7; // 1/10!
  p = p * r + 2.7557319223985893e-6; // 1/9!
  p = p * r + 2.48015873015873e-5; // 1/8!
  p = p * r + 1.984126984126984e-4; // 1/7!
  p = p * r + 1.388888888888889e-3; // 1/6!
  p = p * r + 8.333333333333333e-3; // 1/5!
  p = p * r + 4.1666666666666664e-2; // 1/4!
  p = p * r + 0.16666666666666666; // 1/3!
  p = p * r + 0.5; // 1/2!
  p = p * r + 1.0;
  p = p * r + 1.0;
  const e: f32 = fround(ldexp(p, k));
  return x > EXP_MAX ? Infinity : x < EXP_MIN ? 0 : e;
}
