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
    headScores(scores, q, keyCache, qh, kvHead, 0, pos + 1, headSize, kvDim, scale);
    softmax(scores, pos + 1);
    for (let i: i32 = 0; i < headSize; i++) {
      xb[qh + i] = 0;
    }
    headValues(xb, scores, valueCache, qh, kvHead, 0, pos + 1, headSize, kvDim);
  }
}

/** scores[t] = q_h · k_t / scale for the positions t in [from, to), one at a time (run.c's loop). */
export function headScores(
  scores: Float32Array,
  q: Float32Array,
  keyCache: Float32Array,
  qh: i32,
  kvHead: i32,
  from: i32,
  to: i32,
  headSize: i32,
  kvDim: i32,
  scale: f32,
): void {
  for (let t: i32 = from; t < to; t++) {
    const kt: i32 = kvHead + t * kvDim;
    let score: f32 = 0;
    for (let i: i32 = 0; i < headSize; i++) {
      score = fround(score + fround(q[qh + i] * keyCache[kt + i]));
    }
    scores[t] = fround(score / scale);
  }
}

/** xb_h += scores[t] · v_t for the positions t in [from, to), in order (run.c's loop). */
export function headValues(
  xb: Float32Array,
  scores: Float32Array,
  valueCache: Float32Array,
  qh: i32,
  kvHead: i32,
  from: i32,
  to: i32,
  headSize: i32,
  kvDim: i32,
): void {
  for (let t: i32 = from; t < to; t++) {
    const vt: i32 = kvHead + t * kvDim;
    const a: f32 = scores[t];
    for (let i: i32 = 0; i < headSize; i++) {
      xb[qh + i] = fround(xb[qh + i] + fround(a * valueCache[vt + i]));
    }
  }
}

/**
 * The same attention, four positions at a time (what specialized builds run). Each score is still
 * the sum over i ascending and each output value the sum over t ascending, so the result is
 * attention's bit for bit (the last (pos + 1) mod 4 positions go one at a time, as there); but
 * four independent sums keep the floating-point units busy where one sum waits on each addition
 * before the next (a head's 48 additions in a row for stories15M).
 */
export function attentionBlocked(
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
  const blocked: i32 = pos + 1 - ((pos + 1) % 4);
  for (let h: i32 = 0; h < nHeads; h++) {
    const qh: i32 = h * headSize;
    const scores: Float32Array = att.subarray(h * seqLen);
    const kvHead: i32 = layerOffset + idiv(h, kvMul) * headSize;
    // scores, positions t..t+3 side by side
    for (let t: i32 = 0; t < blocked; t += 4) {
      const kt: i32 = kvHead + t * kvDim;
      let s0: f32 = 0;
      let s1: f32 = 0;
      let s2: f32 = 0;
      let s3: f32 = 0;
      for (let i: i32 = 0; i < headSize; i++) {
        const qi: f32 = q[qh + i];
        s0 = fround(s0 + fround(qi * keyCache[kt + i]));
        s1 = fround(s1 + fround(qi * keyCache[kt + kvDim + i]));
        s2 = fround(s2 + fround(qi * keyCache[kt + 2 * kvDim + i]));
        s3 = fround(s3 + fround(qi * keyCache[kt + 3 * kvDim + i]));
      }
      scores[t] = fround(s0 / scale);
      scores[t + 1] = fround(s1 / scale);
      scores[t + 2] = fround(s2 / scale);
      scores[t + 3] = fround(s3 / scale);
    }
    headScores(scores, q, keyCache, qh, kvHead, blocked, pos + 1, headSize, kvDim, scale);
    softmax(scores, pos + 1);
    // the weighted sum of the values: four positions added to each output value in turn
    for (let i: i32 = 0; i < headSize; i++) {
      xb[qh + i] = 0;
    }
    for (let t: i32 = 0; t < blocked; t += 4) {
      const vt: i32 = kvHead + t * kvDim;
      const a0: f32 = scores[t];
      const a1: f32 = scores[t + 1];
      const a2: f32 = scores[t + 2];
      const a3: f32 = scores[t + 3];
      for (let i: i32 = 0; i < headSize; i++) {
        let x: f32 = xb[qh + i];
        x = fround(x + fround(a0 * valueCache[vt + i]));
        x = fround(x + fround(a1 * valueCache[vt + kvDim + i]));
        x = fround(x + fround(a2 * valueCache[vt + 2 * kvDim + i]));
        x = fround(x + fround(a3 * valueCache[vt + 3 * kvDim + i]));
        xb[qh + i] = x;
      }
    }
    headValues(xb, scores, valueCache, qh, kvHead, blocked, pos + 1, headSize, kvDim);
  }
}
