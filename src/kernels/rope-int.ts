/** Rotary position embedding of the integer kernels: Q16.16 vectors, Q2.30 tables. */
import { idiv, mulShr } from './builtins.js';
import type { i32 } from './types.js';

/**
 * Rotates each pair (v[i], v[i+1]) of every head of q, and of k for the first kvDim entries, by
 * the angle pos · freq(i mod headSize). The tables hold round(cos · 2^30) and round(sin · 2^30)
 * of the float tables (src/checkpoint/rope-tables.ts), indexed [pos · headSize/2 + (i mod headSize)/2].
 */
export function ropeInt(
  q: Int32Array,
  k: Int32Array,
  ropeCos: Int32Array,
  ropeSin: Int32Array,
  pos: i32,
  dim: i32,
  kvDim: i32,
  headSize: i32,
): void {
  const row: i32 = pos * idiv(headSize, 2);
  for (let i: i32 = 0; i < dim; i += 2) {
    const fcr: i32 = ropeCos[row + idiv(i % headSize, 2)];
    const fci: i32 = ropeSin[row + idiv(i % headSize, 2)];
    const q0: i32 = q[i];
    const q1: i32 = q[i + 1];
    q[i] = mulShr(q0, fcr, 30) - mulShr(q1, fci, 30);
    q[i + 1] = mulShr(q0, fci, 30) + mulShr(q1, fcr, 30);
    if (i < kvDim) {
      const k0: i32 = k[i];
      const k1: i32 = k[i + 1];
      k[i] = mulShr(k0, fcr, 30) - mulShr(k1, fci, 30);
      k[i + 1] = mulShr(k0, fci, 30) + mulShr(k1, fcr, 30);
    }
  }
}
