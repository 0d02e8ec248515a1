/**
 * Rotary position embedding (llama2.c run.c, inside `forward`), with the cosines and sines read
 * from tables built once per model (see src/checkpoint/rope-tables.ts) instead of calling cosf/sinf
 * per token.
 */
import { fround, idiv } from './builtins.js';
import type { f32, i32 } from './types.js';

/**
 * Rotates each pair (v[i], v[i+1]) of every head of q, and of k for the first kvDim entries, by the
 * angle pos · freq(i mod headSize). Tables are indexed [pos · headSize/2 + (i mod headSize)/2].
 */
export function rope(
  q: Float32Array,
  k: Float32Array,
  ropeCos: Float32Array,
  ropeSin: Float32Array,
  pos: i32,
  dim: i32,
  kvDim: i32,
  headSize: i32,
): void {
  const row: i32 = pos * idiv(headSize, 2);
  for (let i: i32 = 0; i < dim; i += 2) {
    const fcr: f32 = ropeCos[row + idiv(i % headSize, 2)];
    const fci: f32 = ropeSin[row + idiv(i % headSize, 2)];
    const q0: f32 = q[i];
    const q1: f32 = q[i + 1];
    q[i] = fround(fround(q0 * fcr) - fround(q1 * fci));
    q[i + 1] = fround(fround(q0 * fci) + fround(q1 * fcr));
    if (i < kvDim) {
      const k0: f32 = k[i];
      const k1: f32 = k[i + 1];
      k[i] = fround(fround(k0 * fcr) - fround(k1 * fci));
      k[i + 1] = fround(fround(k0 * fci) + fround(k1 * fcr));
    }
  }
}
