/** Choosing the next token from the logits (llama2.c run.c `sample_argmax`, `sample_mult`, `sample_topp`). */
import { fround, greaterF32 } from './builtins.js';
import { randomF32 } from './rng.js';
import { softmax } from './softmax.js';
import type { f32, i32 } from './types.js';

/** Index of the largest value; the first one on ties. */
export function argmax(x: Float32Array, n: i32): i32 {
  let best: i32 = 0;
  let bestVal: f32 = x[0];
  for (let i: i32 = 1; i < n; i++) {
    if (greaterF32(x[i], bestVal)) {
      bestVal = x[i];
      best = i;
    }
  }
  return best;
}

/** Samples from the distribution `probs` with `coin` in [0, 1): the first i whose CDF exceeds coin. */
export function sampleMult(probs: Float32Array, n: i32, coin: f32): i32 {
  let cdf: f32 = 0;
  for (let i: i32 = 0; i < n; i++) {
    cdf = fround(cdf + probs[i]);
    if (coin < cdf) return i;
  }
  return n - 1;
}

/**
 * True when candidate a comes before candidate b: higher probability first, and on equal
 * probability the lower token id (llama2.c sorts with glibc's qsort, a stable merge sort here,
 * over candidates listed in id order).
 */
function before(probs: Float32Array, a: i32, b: i32): boolean {
  return probs[a] > probs[b] || (probs[a] === probs[b] && a < b);
}

/** Moves candidate order[root] down the max-heap (by `before` reversed) of the first `size` entries. */
function siftDown(order: Int32Array, probs: Float32Array, root: i32, size: i32): void {
  let parent: i32 = root;
  for (;;) {
    let child: i32 = 2 * parent + 1;
    if (child >= size) return;
    if (child + 1 < size && before(probs, order[child], order[child + 1])) child = child + 1;
    if (!before(probs, order[parent], order[child])) return;
    const tmp: i32 = order[parent];
    order[parent] = order[child];
    order[child] = tmp;
    parent = child;
  }
}

/** Sorts candidate ids order[0..count) into `before` order (heap sort: no allocation, O(n log n)). */
export function sortCandidates(order: Int32Array, probs: Float32Array, count: i32): void {
  for (let i: i32 = (count >> 1) - 1; i >= 0; i--) siftDown(order, probs, i, count);
  for (let end: i32 = count - 1; end > 0; end--) {
    const tmp: i32 = order[0];
    order[0] = order[end];
    order[end] = tmp;
    siftDown(order, probs, 0, end);
  }
}

/**
 * Top-p (nucleus) sampling: among the tokens with the highest probabilities whose cumulative
 * probability first exceeds topp, sample proportionally. Tokens below (1 - topp) / (n - 1) cannot
 * be part of the nucleus and are dropped before sorting. `order` is scratch space of n entries.
 */
export function sampleTopp(probs: Float32Array, n: i32, topp: f32, order: Int32Array, coin: f32): i32 {
  const cutoff: f32 = fround(fround(1 - topp) / (n - 1));
  let n0: i32 = 0;
  for (let i: i32 = 0; i < n; i++) {
    if (probs[i] >= cutoff) {
      order[n0] = i;
      n0++;
    }
  }
  sortCandidates(order, probs, n0);
  let cumulative: f32 = 0;
  let lastIdx: i32 = n0 - 1;
  for (let i: i32 = 0; i < n0; i++) {
    cumulative = fround(cumulative + probs[order[i]]);
    if (cumulative > topp) {
      lastIdx = i;
      break;
    }
  }
  const r: f32 = fround(coin * cumulative);
  let cdf: f32 = 0;
  for (let i: i32 = 0; i <= lastIdx; i++) {
    cdf = fround(cdf + probs[order[i]]);
    if (r < cdf) return order[i];
  }
  return order[lastIdx];
}

/**
 * The next token from the logits (llama2.c run.c `sample`): greedy when temperature is 0;
 * otherwise the logits are divided by the temperature, turned into probabilities in place, and
 * sampled with one coin from the RNG, top-p when 0 < topp < 1, from the whole distribution else.
 */
export function sampleNext(
  logits: Float32Array,
  n: i32,
  temperature: f32,
  topp: f32,
  order: Int32Array,
  rngState: BigUint64Array,
): i32 {
  if (temperature === 0) return argmax(logits, n);
  for (let i: i32 = 0; i < n; i++) {
    logits[i] = fround(logits[i] / temperature);
  }
  softmax(logits, n);
  const coin: f32 = randomF32(rngState);
  if (topp <= 0 || topp >= 1) return sampleMult(logits, n, coin);
  return sampleTopp(logits, n, topp, order, coin);
}
