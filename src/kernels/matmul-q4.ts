/**
 * Q4_0 weights: unpacking a 4-bit value, and the matrix-vector product with int8 activations.
 * The packing is the one of `Q4Tensor` (src/checkpoint/model.ts): each row takes (n + 1) / 2 bytes;
 * value j of a row sits in byte j / 2, in the low nibble when j is even and the high nibble when
 * j is odd, stored as v + 8 (0..15) for v in [-8, 7].
 */
import { fround, idiv, imin } from './builtins.js';
import type { f32, i32 } from './types.js';

/** Value j of the row whose packed bytes start at `rowStart`: a nibble, shifted back to [-8, 7]. */
export function q4At(packed: Uint8Array, rowStart: i32, j: i32): i32 {
  const byte: i32 = packed[rowStart + (j >> 1)];
  return ((byte >> ((j & 1) << 2)) & 15) - 8;
}

/**
 * Q4_0 matmul, the Q8_0 one with 4-bit weights: x (n values) was quantized to int8 with
 * `quantizeQ8` using the weights' group size, so weight and activation groups cover the same
 * columns. Per group the products are summed exactly in int32 (|sum| ≤ 127 · 8 · groupSize), then
 * scaled in float32: `val += (float)ival * wScale * xScale`.
 */
export function matmulQ4(
  xout: Float32Array,
  xq: Int8Array,
  xs: Float32Array,
  wq: Uint8Array,
  ws: Float32Array,
  n: i32,
  d: i32,
  groupSize: i32,
): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  const rowBytes: i32 = idiv(n + 1, 2);
  for (let i: i32 = 0; i < d; i++) {
    let val: f32 = 0;
    const row: i32 = i * rowBytes;
    for (let g: i32 = 0; g < groups; g++) {
      const start: i32 = g * groupSize;
      const end: i32 = imin(start + groupSize, n);
      let ival: i32 = 0;
      for (let j: i32 = start; j < end; j++) {
        ival += xq[j] * q4At(wq, row, j);
      }
      val = fround(val + fround(fround(ival * ws[i * groups + g]) * xs[g]));
    }
    xout[i] = val;
  }
}
