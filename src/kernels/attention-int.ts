/**
 * Grouped-query attention of the integer kernels, over an int8 KV cache (one scale code per position
 * and key/value head), with an integer softmax (see doc/kernels.md, "Integer mode").
 */
import { fround, idiv, ldexp, mulShr, roundHalfAway, sqrtf, toI32 } from './builtins.js';
import { expNegInt } from './exp-int.js';
import { quantizeKvInt, quantizeQ8Int } from './quantize-int.js';
import type { i32 } from './types.js';

/** 11 in Q16.16: from there on, e^-d rounded to Q14 is 0. */
export const EXP_Q14_ZERO: i32 = 720896;

/**
 * Stores this position's key and value (Q16.16, kvDim values each) in the int8 cache: each head's
 * headSize values quantized like activations, against the scale of a one-byte code in keyScale /
 * valueScale (quantizeKvInt; the scale is scaleTable[code]). `at` is the offset of this position
 * in the cache (values), `scaleAt` in the scale codes.
 */
export function storeKvInt(
  keyCache: Int8Array,
  keyScale: Uint8Array,
  valueCache: Int8Array,
  valueScale: Uint8Array,
  k: Int32Array,
  v: Int32Array,
  scaleTable: Int32Array,
  at: i32,
  scaleAt: i32,
  kvDim: i32,
  headSize: i32,
): void {
  quantizeKvInt(keyCache.subarray(at), keyScale.subarray(scaleAt), k, kvDim, headSize, scaleTable);
  quantizeKvInt(valueCache.subarray(at), valueScale.subarray(scaleAt), v, kvDim, headSize, scaleTable);
}

/**
 * For every head h: scores of q_h against the keys of positions 0..pos, softmax, then the weighted
 * sum of the values into xb (Q16.16). q is quantized per head (qq, qm) so that a score is one
 * int8 dot product of headSize terms, scaled in fixed point:
 *   score = dot · Mq · Mk / (127² · sqrt(headSize)), in Q16.16,
 * the query's part of the factor one Q28 product per head. The softmax takes
 * p_t = e^(score_t - max) in Q14 (from the exponential table); each value row adds
 * w_t · v_t with w_t = p_t · Mv_t / 2^shift, 2^shift the power of two just above Σp, and the
 * sums are brought to p_t / Σp and divided by 127 at the end, one product per value (one product
 * per position instead of two, and a 16-bit p_t makes it a short one on the M0+). The layer's
 * cache starts at `layerOffset` (kvDim values per position) and `layerScales` (nKvHeads scale
 * codes per position, their scales in scaleTable). A thread's share of the heads is a call with
 * nHeads its heads (whole key/value heads), xb, q, qq, qm starting at its first query head and
 * layerOffset, layerScales at its first key/value head: each head's arithmetic is the same.
 */
export function attentionInt(
  xb: Int32Array,
  q: Int32Array,
  qq: Int8Array,
  qm: Int32Array,
  keyCache: Int8Array,
  keyScale: Uint8Array,
  valueCache: Int8Array,
  valueScale: Uint8Array,
  scaleTable: Int32Array,
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
  // the scale codes' stride: every key/value head's, also when this call computes only some heads
  const nKvHeads: i32 = idiv(kvDim, headSize);
  quantizeQ8Int(qq, qm, q, nHeads * headSize, headSize);
  // 2^16 / (127² · sqrt(headSize)), the query scale's factor, in Q28: each head's share is then one
  // integer product (float32 arithmetic per head was soft float on the M0+)
  const queryFactor: i32 = toI32(roundHalfAway(ldexp(1, 44) / fround(16129 * sqrtf(headSize))));
  for (let h: i32 = 0; h < nHeads; h++) {
    const qh: i32 = h * headSize;
    const kvHead: i32 = idiv(h, kvMul);
    const kvAt: i32 = layerOffset + kvHead * headSize;
    const scaleAt: i32 = layerScales + kvHead;
    const qFixed: i32 = mulShr(qm[h], queryFactor, 28);
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
      const score: i32 = mulShr(mulShr(dot, scaleTable[keyScale[scaleAt + t * nKvHeads]], 16), qFixed, 16);
      att[t] = score;
      if (t === 0 || score > maxScore) maxScore = score;
    }
    // softmax: p_t = e^(score - max) in Q14 (the max's own is 2^14, so that p_t fits 16 bits), and their sum
    let sum: i32 = 0;
    for (let t: i32 = 0; t <= pos; t++) {
      // e^-11 < 2^-15: rounded to Q14 it is 0 from there on (test/kernels/integer.spec.ts checks
      // every d up to where expNegInt itself gives 0); a story's attention is sharp, and about
      // 40 % of stories260K's positions end here
      const d: i32 = maxScore - att[t];
      const p: i32 = d >= EXP_Q14_ZERO ? 0 : (expNegInt(d, expTable) + 32768) >> 16;
      att[t] = p;
      sum += p;
    }
    // 2^(shift-1) <= sum < 2^shift: the weights p_t / 2^shift add up to less than 1, as p_t / sum
    // do, so the sums below keep the same headroom, and each weight is one product
    let shift: i32 = 15;
    while (sum >> shift > 0) {
      shift = shift + 1;
    }
    for (let t: i32 = 0; t <= pos; t++) {
      if (att[t] !== 0) att[t] = mulShr(att[t], scaleTable[valueScale[scaleAt + t * nKvHeads]], shift);
    }
    // the weighted sum of the values, in a local array: in C, stores to xb could change the
    // int8 cache as far as the compiler knows, so xb's sums would go back to memory every position
    const sums: Int32Array = new Int32Array(headSize);
    for (let t: i32 = 0; t <= pos; t++) {
      if (att[t] !== 0) {
        // (a weight of 0 adds nothing)
        const vt: i32 = kvAt + t * kvDim;
        for (let i: i32 = 0; i < headSize; i++) {
          sums[i] += att[t] * valueCache[vt + i];
        }
      }
    }
    // then, once per value instead of per position: · 2^shift / sum, and / 127 for the int8 values,
    // as one factor in Q31, in integers: 2^shift / sum = 2^15 / top with top = sum's upper 15 bits
    // (in [2^14, 2^15); the bits below are 2^-14 of it), one division, then 1/127 = 16513 / 2^21
    const top: i32 = sum >> (shift - 15);
    const normalize: i32 = (idiv(1073741824 + (top >> 1), top) * 16513 + 16) >> 5;
    for (let i: i32 = 0; i < headSize; i++) {
      xb[qh + i] = mulShr(sums[i], normalize, 31);
    }
  }
}
