/** Token embedding lookup from a Q4_0 table (packing: see matmul-q4.ts). */
import { fround, idiv } from './builtins.js';
import { q4At } from './matmul-q4.js';
import type { i32 } from './types.js';

/** x ← row `token` of the table: each 4-bit value times its group's scale, rounded to float32. */
export function embedQ4(x: Float32Array, q: Uint8Array, scales: Float32Array, token: i32, dim: i32, groupSize: i32): void {
  const groups: i32 = idiv(dim + groupSize - 1, groupSize);
  const row: i32 = token * idiv(dim + 1, 2);
  for (let j: i32 = 0; j < dim; j++) {
    x[j] = fround(q4At(q, row, j) * scales[token * groups + idiv(j, groupSize)]);
  }
}
