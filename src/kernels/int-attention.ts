/**
 * Grouped-query attention of the integer kernels, over an int8 KV cache (one scale per position
 * and key/value head), with an integer softmax (see doc/kernels.md, "Integer mode").
 */
import { fround, idiv, ldexp, mulShr, roundHalfAway, sqrtf, toI32 } from './builtins.js';
import { expNegInt } from './int-exp.js';
import { quantizeQ8Int } from './int-quantize.js';
import type { f32, i32 } from './types.js';

/**
 * Stores this position's key and value (Q16.16, kvDim values each) in the int8 cache: each head's
 * headSize values quantized like activations, their max in keyMax / valueMax. `at` is the offset
 * of this position in the cache (values), `scaleAt` in the scales.
 */
export function storeKvInt(
  keyCache: Int8Array,
  keyMax: Int32Array,
  valueCache: Int8Array,
  valueMax: Int32Array,
  k: Int32Array,
  v: Int32Array,
  at: i32,
  scaleAt: i32,
  kvDim: i32,
  headSize: i32,
): void {
  quantizeQ8Int(keyCache.subarray(at), keyMax.subarray(scaleAt), k, kvDim, headSize);
  quantizeQ8Int(valueCache.subarray(at), valueMax.subarray(scaleAt), v, kvDim, headSize);
}

/**
 * For every head h: scores of q_h against the keys of positions 0..pos, softmax, then the weighted
 * sum of the values into xb (Q16.16). q is quantized per head (qq, qm) so that a score is one
 * int8 dot product of headSize terms, scaled in fixed point:
 *   score = dot · Mq · Mk / (127² · sqrt(headSize)), in Q16.16,
 * the query's part of the factor computed once per head in float32. The softmax takes
 * p_t = e^(score_t - max) in Q20 (from the exponential table) and weights w_t = p_t / Σp in Q15,
 * and each value row adds w_t · Mv_t · v_t. The layer's cache starts at `layerOffset` (kvDim
 * values per position) and `layerScales` (nKvHeads scales per position).
 */
export function attentionInt(
  xb: Int32Array,
  q: Int32Array,
  qq: Int8Array,
  qm: Int32Array,
  keyCache: Int8Array,
  keyMax: Int32Array,
  valueCache: Int8Array,
  valueMax: Int32Array,
  att: Int32Array,
  expTable: Int32Array,
  layerOffset: i32,
  layerScales: i32,
  pos: i32,
  nHeads: i32,
  headSize: i32,
  kvDim: i32,
  kvMul: i32,
): void {
  const nKvHeads: i32 = idiv(nHeads, kvMul);
  quantizeQ8Int(qq, qm, q, nHeads * headSize, headSize);
  // 2^16 / (127² · sqrt(headSize)): the query scale's factor, in float32
  const queryFactor: f32 = fround(65536 / fround(16129 * sqrtf(headSize)));
  for (let h: i32 = 0; h < nHeads; h++) {
    const qh: i32 = h * headSize;
    const kvHead: i32 = idiv(h, kvMul);
    const kvAt: i32 = layerOffset + kvHead * headSize;
    const scaleAt: i32 = layerScales + kvHead;
    const qFixed: i32 = toI32(roundHalfAway(fround(fround(qm[h]) * queryFactor)));
    // scores, and their maximum; the query's values widened once (in C, word loads with a
    // constant offset instead of a byte load and an offset register for each)
    const query: Int32Array = new Int32Array(headSize);
    for (let i: i32 = 0; i < headSize; i++) {
      query[i] = qq[qh + i];
    }
    let maxScore: i32 = 0;
    for (let t: i32 = 0; t <= pos; t++) {
      const kt: i32 = kvAt + t * kvDim;
      let dot: i32 = 0;
      for (let i: i32 = 0; i < headSize; i++) {
        dot += query[i] * keyCache[kt + i];
      }
      const score: i32 = mulShr(mulShr(dot, keyMax[scaleAt + t * nKvHeads], 16), qFixed, 16);
      att[t] = score;
      if (t === 0 || score > maxScore) maxScore = score;
    }
    // softmax: p_t = e^(score - max) in Q20, and their sum
    let sum: i32 = 0;
    for (let t: i32 = 0; t <= pos; t++) {
      const p: i32 = (expNegInt(maxScore - att[t], expTable) + 512) >> 10;
      att[t] = p;
      sum += p;
    }
    // 2^46 / sum, so that mulShr(p, recip, 31) = p / sum in Q15 (sum >= 2^20: the max's own p)
    const recip: i32 = toI32(roundHalfAway(ldexp(1, 46) / sum));
    // the weighted sum of the values, in a local array: in C, stores to xb could change the
    // int8 cache as far as the compiler knows, so xb's sums would go back to memory every position
    const sums: Int32Array = new Int32Array(headSize);
    for (let t: i32 = 0; t <= pos; t++) {
      const vt: i32 = kvAt + t * kvDim;
      const weight: i32 = mulShr(mulShr(att[t], recip, 31), valueMax[scaleAt + t * nKvHeads], 15);
      for (let i: i32 = 0; i < headSize; i++) {
        sums[i] += weight * valueCache[vt + i];
      }
    }
    for (let i: i32 = 0; i < headSize; i++) {
      xb[qh + i] = idiv(sums[i], 127);
    }
  }
}
