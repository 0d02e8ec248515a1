/** Grouped-query attention over the KV cache (llama2.c run.c, inside `forward`). */
import { fround, idiv, sqrtf } from './builtins.js';
import { softmax } from './softmax.js';
import type { f32, i32 } from './types.js';

/**
 * For every head h: scores of q_h against the keys of positions 0..pos, scaled by 1/sqrt(headSize),
 * softmax, then the weighted sum of the values into xb. Query head h reads key/value head
 * h / kvMul (kvMul = nHeads / nKvHeads). The cache of this layer starts at `layerOffset` and holds
 * `kvDim` floats per position.
 */
export function attention(
  xb: Float32Array,
  q: Float32Array,
  keyCache: Float32Array,
  valueCache: Float32Array,
  att: Float32Array,
  layerOffset: i32,
  pos: i32,
  nHeads: i32,
  headSize: i32,
  kvDim: i32,
  kvMul: i32,
  seqLen: i32,
): void {
  const scale: f32 = sqrtf(headSize);
  for (let h: i32 = 0; h < nHeads; h++) {
    const qh: i32 = h * headSize;
    const scores: Float32Array = att.subarray(h * seqLen);
    const kvHead: i32 = layerOffset + idiv(h, kvMul) * headSize;
    for (let t: i32 = 0; t <= pos; t++) {
      const kt: i32 = kvHead + t * kvDim;
      let score: f32 = 0;
      for (let i: i32 = 0; i < headSize; i++) {
        score = fround(score + fround(q[qh + i] * keyCache[kt + i]));
      }
      scores[t] = fround(score / scale);
    }
    softmax(scores, pos + 1);
    for (let i: i32 = 0; i < headSize; i++) {
      xb[qh + i] = 0;
    }
    for (let t: i32 = 0; t <= pos; t++) {
      const vt: i32 = kvHead + t * kvDim;
      const a: f32 = scores[t];
      for (let i: i32 = 0; i < headSize; i++) {
        xb[qh + i] = fround(xb[qh + i] + fround(a * valueCache[vt + i]));
      }
    }
  }
}
