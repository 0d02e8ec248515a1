/**
 * Integer-mode sampling when the classifier runs in row blocks (a vocabulary whose logits do not fit
 * the SRAM: stories15M's 32,000 on the RP2040): one pass over the blocks keeps a bounded set of
 * candidates, the K largest logits with their token ids (a min-heap), and a running sum of the
 * weights of every other token; then the nucleus is drawn from the candidates. The weights are those
 * of sampling-int.ts (weight_i = e^(-(max - logit_i) / temperature) in Q2.30, shifted right by the
 * bits of n - 1), so the draw is sampling-int.ts's `sampleToppWeights` wherever the candidates hold
 * the whole distribution (doc/kernels.md, "Sampling with the classifier in blocks"):
 *
 * - the candidates' weights are exact: computed at the end, relative to the final maximum;
 * - the other tokens' weights are added up as they leave (each relative to the maximum so far, the
 *   sum rescaled by e^(-rise / temperature) whenever the maximum rises: rounded, so approximate);
 * - when every token outside the candidates has weight 0 relative to the final maximum (the largest
 *   of them tells), the sum is the candidates' and the token is exactly the plain sampler's;
 * - otherwise the sum (topp's threshold and cutoff) is approximate, the nucleus is capped at the
 *   candidates that pass the cutoff, and a draw from the whole distribution (topp outside (0, 1), or
 *   no candidate above the cutoff) is a draw from the candidates alone.
 *
 * The state between blocks is `tally` (TALLY_SIZE words) and the heap `topLogits`, `topIds` of
 * capacity k; sampleCandidates overwrites topLogits with weights.
 */
import { floor, fround, idiv, mulShr, toI32 } from './builtins.js';
import { expNegInt } from './exp-int.js';
import { randomU32 } from './rng.js';
import type { f32, i32 } from './types.js';

/** tally[0]: the largest logit so far (Q16.16). */
const TALLY_MAX: i32 = 0;
/** tally[1]: the weights of the tokens outside the candidates, relative to tally[TALLY_MAX]. */
const TALLY_TAIL: i32 = 1;
/** tally[2]: candidates in the heap (0 before the first logit). */
const TALLY_COUNT: i32 = 2;
/** tally[3]: 1 once a token has been left out (or pushed out) of the candidates, else 0. */
const TALLY_LEFT_OUT: i32 = 3;
/** tally[4]: the largest logit left out of the candidates. */
const TALLY_LARGEST_LEFT_OUT: i32 = 4;

/** Words of the state kept between blocks (`tally`). */
export const TALLY_SIZE: i32 = 5;

/** The bits of n - 1: the shift that lets n weights of at most 2^30 sum within 31 bits (as softmaxWeights). */
function weightShift(n: i32): i32 {
  let shift: i32 = 0;
  while ((n - 1) >> shift > 0) shift++;
  return shift;
}

/**
 * The weight of a logit `distance` (Q16.16, >= 0) below the maximum: e^(-distance / temperature) in
 * Q2.30 shifted right by `shift`, rounded, as softmaxWeights computes it (0 from 32.0 on).
 */
function weightBelowMax(distance: i32, invTemp: i32, shift: i32, expTable: Int32Array): i32 {
  // (2^31 - 1) / invTemp · 2^6 + 2^6 on, the scaled distance is 32.0 or more (see softmaxWeights)
  const far: i32 = (idiv(2147483647, invTemp) + 1) << 6;
  if (distance >= far) return 0;
  const d: i32 = mulShr(distance, invTemp, 16); // expNegInt is 0 from 32.0 on
  const half: i32 = shift > 0 ? 1 << (shift - 1) : 0;
  return (expNegInt(d, expTable) + half) >> shift;
}

/** True when candidate a ranks below candidate b: the smaller logit, on equal logits the higher id. */
function ranksBelow(topLogits: Int32Array, topIds: Int32Array, a: i32, b: i32): boolean {
  return topLogits[a] < topLogits[b] || (topLogits[a] === topLogits[b] && topIds[a] > topIds[b]);
}

/** Swaps candidates a and b of the heap. */
function swapCandidates(topLogits: Int32Array, topIds: Int32Array, a: i32, b: i32): void {
  const logit: i32 = topLogits[a];
  const id: i32 = topIds[a];
  topLogits[a] = topLogits[b];
  topIds[a] = topIds[b];
  topLogits[b] = logit;
  topIds[b] = id;
}

/** Moves candidate `at` down the min-heap of `size` candidates (the lowest ranked at the root). */
function siftDownLowest(topLogits: Int32Array, topIds: Int32Array, at: i32, size: i32): void {
  let parent: i32 = at;
  for (;;) {
    let child: i32 = 2 * parent + 1;
    if (child >= size) return;
    if (child + 1 < size && ranksBelow(topLogits, topIds, child + 1, child)) child = child + 1;
    if (!ranksBelow(topLogits, topIds, child, parent)) return;
    swapCandidates(topLogits, topIds, parent, child);
    parent = child;
  }
}

/** Starts a pass over the blocks: no logit seen yet. */
export function candidatesStart(tally: Int32Array): void {
  tally[TALLY_MAX] = 0;
  tally[TALLY_TAIL] = 0;
  tally[TALLY_COUNT] = 0;
  tally[TALLY_LEFT_OUT] = 0;
  tally[TALLY_LARGEST_LEFT_OUT] = 0;
}

/**
 * Folds the `count` Q16.16 logits of `block`, those of tokens first .. first + count - 1 (blocks in
 * token order), into the candidates (the k largest, on equal logits the lower ids) and the tally
 * of the others, for a vocabulary of n tokens at 1 / temperature = invTemp (Q16.16).
 */
export function foldCandidates(
  tally: Int32Array,
  topLogits: Int32Array,
  topIds: Int32Array,
  k: i32,
  block: Int32Array,
  first: i32,
  count: i32,
  n: i32,
  invTemp: i32,
  expTable: Int32Array,
): void {
  const shift: i32 = weightShift(n);
  let maxVal: i32 = tally[TALLY_MAX];
  let tail: i32 = tally[TALLY_TAIL];
  let size: i32 = tally[TALLY_COUNT];
  for (let i: i32 = 0; i < count; i++) {
    const logit: i32 = block[i];
    if (size === 0) {
      maxVal = logit;
    } else if (logit > maxVal) {
      // the others' weights were relative to the old maximum: times e^(-rise / temperature), the
      // weight of the old maximum below the new one (unshifted: Q2.30)
      tail = mulShr(tail, weightBelowMax(logit - maxVal, invTemp, 0, expTable), 30);
      maxVal = logit;
    }
    let leftOut: i32 = logit;
    let isLeftOut: boolean = false;
    if (size < k) {
      // a free place: the new candidate goes up from the bottom of the heap
      topLogits[size] = logit;
      topIds[size] = first + i;
      let at: i32 = size;
      size++;
      while (at > 0 && ranksBelow(topLogits, topIds, at, (at - 1) >> 1)) {
        swapCandidates(topLogits, topIds, at, (at - 1) >> 1);
        at = (at - 1) >> 1;
      }
    } else if (logit > topLogits[0]) {
      // (an equal logit has a higher id than every candidate, so it ranks below the lowest)
      leftOut = topLogits[0];
      isLeftOut = true;
      topLogits[0] = logit;
      topIds[0] = first + i;
      siftDownLowest(topLogits, topIds, 0, size);
    } else {
      isLeftOut = true;
    }
    if (isLeftOut) {
      tail += weightBelowMax(maxVal - leftOut, invTemp, shift, expTable);
      if (tally[TALLY_LEFT_OUT] === 0 || leftOut > tally[TALLY_LARGEST_LEFT_OUT]) {
        tally[TALLY_LEFT_OUT] = 1;
        tally[TALLY_LARGEST_LEFT_OUT] = leftOut;
      }
    }
  }
  tally[TALLY_MAX] = maxVal;
  tally[TALLY_TAIL] = tail;
  tally[TALLY_COUNT] = size;
}

/** True when candidate a comes before candidate b in the nucleus: the heavier first, on equal weight the lower id. */
function heavierCandidate(weights: Int32Array, topIds: Int32Array, a: i32, b: i32): boolean {
  return weights[a] > weights[b] || (weights[a] === weights[b] && topIds[a] < topIds[b]);
}

/** Moves order[root] down the heap of the first `size` entries whose root is the first candidate of the nucleus. */
function siftDownHeaviestCandidate(order: Int32Array, weights: Int32Array, topIds: Int32Array, root: i32, size: i32): void {
  let parent: i32 = root;
  for (;;) {
    let child: i32 = 2 * parent + 1;
    if (child >= size) return;
    if (child + 1 < size && heavierCandidate(weights, topIds, order[child + 1], order[child])) child = child + 1;
    if (!heavierCandidate(weights, topIds, order[child], order[parent])) return;
    const tmp: i32 = order[parent];
    order[parent] = order[child];
    order[child] = tmp;
    parent = child;
  }
}

/**
 * A draw from the `size` candidates in token order (sampleMultWeights over the candidates, the
 * others having weight 0): the first whose cumulative weight exceeds coin · sum. `order` is scratch.
 */
function sampleCandidatesInOrder(weights: Int32Array, topIds: Int32Array, size: i32, sum: i32, order: Int32Array, coin24: i32): i32 {
  // the candidates by id (insertion sort: k is small and this runs once per token)
  for (let i: i32 = 0; i < size; i++) {
    let at: i32 = i;
    while (at > 0 && topIds[order[at - 1]] > topIds[i]) {
      order[at] = order[at - 1];
      at--;
    }
    order[at] = i;
  }
  const r: i32 = mulShr(sum, coin24, 24);
  let cdf: i32 = 0;
  for (let i: i32 = 0; i < size; i++) {
    cdf += weights[order[i]];
    if (r < cdf) return topIds[order[i]];
  }
  return topIds[order[size - 1]];
}

/**
 * The token drawn after a pass of foldCandidates over a vocabulary of n tokens, with one draw of the
 * RNG as sampleNextFixed: top-p when 0 < topp < 1 (sampleToppWeights), else from the whole
 * distribution (sampleMultWeights); the file's comment says where they differ. Turns topLogits into
 * the candidates' weights; `order` is scratch space of k entries.
 */
export function sampleCandidates(
  tally: Int32Array,
  topLogits: Int32Array,
  topIds: Int32Array,
  n: i32,
  invTemp: i32,
  topp: f32,
  order: Int32Array,
  rngState: BigUint64Array,
  expTable: Int32Array,
): i32 {
  const shift: i32 = weightShift(n);
  const maxVal: i32 = tally[TALLY_MAX];
  const size: i32 = tally[TALLY_COUNT];
  let candidatesSum: i32 = 0;
  for (let i: i32 = 0; i < size; i++) {
    topLogits[i] = weightBelowMax(maxVal - topLogits[i], invTemp, shift, expTable);
    candidatesSum += topLogits[i];
  }
  // every token outside the candidates weighs 0 when the largest of them does: the sum is exact
  const outsideWeighs: boolean =
    tally[TALLY_LEFT_OUT] !== 0 && weightBelowMax(maxVal - tally[TALLY_LARGEST_LEFT_OUT], invTemp, shift, expTable) > 0;
  const sum: i32 = outsideWeighs ? candidatesSum + tally[TALLY_TAIL] : candidatesSum;
  const coin24: i32 = randomU32(rngState) >>> 8;
  if (topp <= 0 || topp >= 1) return sampleCandidatesInOrder(topLogits, topIds, size, candidatesSum, order, coin24);
  const toppQ30: i32 = toI32(floor(fround(topp * 1073741824)));
  const threshold: i32 = mulShr(sum, toppQ30, 30);
  const cutoff: i32 = n > 1 ? idiv(mulShr(sum, 1073741824 - toppQ30, 30), n - 1) : 0;
  let n0: i32 = 0;
  for (let i: i32 = 0; i < size; i++) {
    if (topLogits[i] >= cutoff) {
      order[n0] = i;
      n0++;
    }
  }
  // none passes (near-uniform weights and topp below 1/n): the whole distribution, here the candidates
  if (n0 === 0) return sampleCandidatesInOrder(topLogits, topIds, size, candidatesSum, order, coin24);
  // sampleToppWeights' nucleus: popped heaviest first to order[n0 - 1], order[n0 - 2], ...
  for (let i: i32 = (n0 >> 1) - 1; i >= 0; i--) siftDownHeaviestCandidate(order, topLogits, topIds, i, n0);
  let cumulative: i32 = 0;
  let last: i32 = 0;
  for (let end: i32 = n0 - 1; end >= 0; end--) {
    const top: i32 = order[0];
    order[0] = order[end];
    order[end] = top;
    siftDownHeaviestCandidate(order, topLogits, topIds, 0, end);
    cumulative += topLogits[top];
    last = end;
    if (cumulative > threshold) break;
  }
  const r: i32 = mulShr(cumulative, coin24, 24);
  let cdf: i32 = 0;
  for (let i: i32 = n0 - 1; i > last; i--) {
    cdf += topLogits[order[i]];
    if (r < cdf) return topIds[order[i]];
  }
  return topIds[order[last]];
}
