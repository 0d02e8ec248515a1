/**
 * Q4_0 weights in the integer kernels (doc/kernels.md, "Integer mode, Q4_0"): the matmul of
 * matmul-int.ts with 4-bit weights, for models whose Q8_0 weights do not fit the flash (stories15M
 * on a 16 MB RP2040 board), laid out so that a core without SIMD (the Cortex-M0+) does two
 * multiply-accumulates per multiply and unpacks without a branch.
 *
 * Layout (src/quant/fixed-point.ts, q4PairWords): rows go in pairs; word k of pair p (32 bits)
 * holds columns 4k..4k+3 of row 2p in its low half and of row 2p + 1 in its high half, a nibble
 * each, stored as v + 8 (0..15) for v in [-8, 7]:
 *
 *   bits  0..3  4..7  8..11 12..15 | 16..19 20..23 24..27 28..31
 *         r0,c0 r0,c1 r0,c2  r0,c3 |  r1,c0  r1,c1  r1,c2  r1,c3
 *
 * (w >> 4c) & 0x000F000F is then the number n0 + n1 · 2^16 for column c of both rows, and one
 * product x · (n0 + n1 · 2^16) = x · n0 + x · n1 · 2^16 adds to both rows' sums. Over 16 columns
 * |Σ x · n| <= 16 · 127 · 15 = 30480 < 2^15, so the sum is an exact int32 whose low 16 bits,
 * sign-extended, are row 0's sum and whose rest, shifted down, row 1's. The + 8 of the storage is
 * taken out once per group: Σ x · (n - 8) = Σ x · n - 8 · Σ x, with 8 · Σ x computed once per call.
 * Every sum is exact, so the result equals matmulQ8Int's on the same values stored as int8
 * (test/kernels/q4-int.spec.ts checks it). A row pair's sums and scales are the builtin
 * dotQ4PairScaled's, in assembly on the Cortex-M0+ (firmware/rp2040/dot_q4.S: 26 cycles a word of
 * 8 products, about 70 a group for both rows' scales).
 */
import { dotQ4PairScaled, fixedToF32, greaterF32, idiv, imin, mulShr } from './builtins.js';
import type { i32 } from './types.js';

/**
 * The activation for matmulQ4Int: xw[j] = xq[j] (j < n: 32-bit loads, which the M0+ can address
 * with an immediate offset where it cannot for signed bytes), then xw[n + g] = 8 · Σ xq over group g.
 */
export function widenQ4Activation(xw: Int32Array, xq: Int8Array, n: i32, groupSize: i32): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  for (let g: i32 = 0; g < groups; g++) {
    const start: i32 = g * groupSize;
    const end: i32 = imin(start + groupSize, n);
    let sum: i32 = 0;
    for (let j: i32 = start; j < end; j++) {
      const v: i32 = xq[j];
      xw[j] = v;
      sum += v;
    }
    xw[n + g] = 8 * sum;
  }
}

/**
 * xout (d values, Q16.16) = W (d × n, Q4_0 in row-pair words, see above) · x, x quantized by
 * quantizeQ8Int (xq, xm) in groups of the weights' group size and widened by widenQ4Activation
 * into xw. d must be even and n and the group size multiples of 16. The weight scales are fixed
 * point as matmulQ8Int's (src/quant/fixed-point.ts): ws = round(scale / 127 · 2^scaleShift), each
 * group adding mulShr(ws, mulShr(dot, M, 16), scaleShift - 16).
 */
export function matmulQ4Int(
  xout: Int32Array,
  xw: Int32Array,
  xm: Int32Array,
  wq: Int32Array,
  ws: Int16Array,
  n: i32,
  d: i32,
  groupSize: i32,
  scaleShift: i32,
): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  const words: i32 = n >> 2;
  const shift: i32 = scaleShift - 16;
  for (let i: i32 = 0; i < d; i += 2) {
    dotQ4PairScaled(xout, i, xw, xm, wq, (i >> 1) * words, ws, i * groups, n, groupSize, shift);
  }
}

/** Value j of row `row` of a Q4_0 matrix of n columns in row-pair words (see above), in [-8, 7]. */
export function q4PairAt(wq: Int32Array, row: i32, j: i32, n: i32): i32 {
  const w: i32 = wq[(row >> 1) * (n >> 2) + (j >> 2)];
  return ((w >> (((row & 1) << 4) + ((j & 3) << 2))) & 15) - 8;
}

/** x (dim values, Q16.16) ← the Q4_0 embedding row of `token` (row-pair words): v · 127 · ws / 2^(scaleShift - 16), as embedQ8Int. */
export function embedQ4Int(x: Int32Array, wq: Int32Array, ws: Int16Array, token: i32, dim: i32, groupSize: i32, scaleShift: i32): void {
  const groups: i32 = idiv(dim + groupSize - 1, groupSize);
  for (let j: i32 = 0; j < dim; j++) {
    x[j] = mulShr(q4PairAt(wq, token, j, dim) * 127, ws[token * groups + idiv(j, groupSize)], scaleShift - 16);
  }
}

/**
 * Greedy decoding over logits computed a block at a time (the classifier in row blocks, so that a
 * 32,000-token vocabulary needs no 125 KiB logits vector): folds the `count` Q16.16 logits of
 * `block`, those of tokens first .. first + count - 1, into best = [token, logit]. Compared as
 * float32 (fixedToF32, strictly greater wins, so the lowest id among equal values), the argmax of
 * llama2.c's sampler over the whole float32 vector: blocks taken in order give the same token.
 * Start with best = [-1, anything]: the first logit then always wins.
 */
export function argmaxFixedBlock(best: Int32Array, block: Int32Array, first: i32, count: i32): void {
  let bestToken: i32 = best[0];
  let bestValue: i32 = best[1];
  for (let i: i32 = 0; i < count; i++) {
    const v: i32 = block[i];
    // v <= bestValue cannot win: the conversion to float32 is monotone (it rounds), so only a
    // larger integer is converted and compared (a few logits a token instead of 32,000 conversions)
    if (bestToken < 0 || (v > bestValue && greaterF32(fixedToF32(v), fixedToF32(bestValue)))) {
      bestToken = first + i;
      bestValue = v;
    }
  }
  best[0] = bestToken;
  best[1] = bestValue;
}
