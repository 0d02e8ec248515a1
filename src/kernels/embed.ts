/** Token embedding lookup: x ← row `token` of the embedding table. */
import { fround, idiv } from './builtins.js';
import type { i32 } from './types.js';

/** f32 table: x ← table[token·dim … token·dim + dim) (llama2.c run.c `memcpy` of the row). */
export function embedF32(x: Float32Array, table: Float32Array, token: i32, dim: i32): void {
  const row: i32 = token * dim;
  for (let j: i32 = 0; j < dim; j++) {
    x[j] = table[row + j];
  }
}

/** Q8_0 table: each value times its group's scale, rounded to float32 (runq.c `dequantize`). */
export function embedQ8(x: Float32Array, q: Int8Array, scales: Float32Array, token: i32, dim: i32, groupSize: i32): void {
  const groups: i32 = idiv(dim + groupSize - 1, groupSize);
  for (let j: i32 = 0; j < dim; j++) {
    x[j] = fround(q[token * dim + j] * scales[token * groups + idiv(j, groupSize)]);
  }
}
