/** The feed-forward non-linearity of the integer kernels (Q16.16). */
import { fixedToF32, idiv, mulShr } from './builtins.js';
import { expNegInt } from './exp-int.js';
import type { i32 } from './types.js';

/**
 * hb[i] ← silu(hb[i]) · hb2[i], silu(v) = v · σ(v). σ(|v|) = 1 / (1 + e^-|v|) in Q16.16 from the
 * exponential table (e^-|v| in Q2.29, so that 2^29 + e fits 31 bits; one division per value); for
 * negative v, σ(v) = e^-|v| · σ(|v|), in Q8.24 so that small σ keep their relative precision.
 */
export function swigluInt(hb: Int32Array, hb2: Int32Array, expTable: Int32Array, hiddenDim: i32): void {
  for (let i: i32 = 0; i < hiddenDim; i++) {
    const v: i32 = hb[i];
    const e: i32 = expNegInt(v < 0 ? -v : v, expTable) >> 1;
    const positive: i32 = idiv(1073741824, (536870912 + e) >> 15);
    const sigma: i32 = v < 0 ? mulShr(e, positive, 21) : positive << 8;
    hb[i] = mulShr(mulShr(v, sigma, 24), hb2[i], 16);
  }
}

/** out[i] = x[i] / 2^16 as float32 (the logits, for the sampler). */
export function fixedToFloat(out: Float32Array, x: Int32Array, n: i32): void {
  for (let i: i32 = 0; i < n; i++) {
    out[i] = fixedToF32(x[i]);
  }
}
