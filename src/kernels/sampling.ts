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

/** Moves order[root] down the heap of the first `size` entries whose root is the first candidate by `before`. */
function siftDownFirst(order: Int32Array, probs: Float32Array, root: i32, size: i32): void {
  let parent: i32 = root;
  for (;;) {
    let child: i32 = 2 * parent + 1;
    if (child >= size) return;
    if (child + 1 < size && before(probs, order[child + 1], order[child])) child = child + 1;
    if (!before(probs, order[child], order[parent])) return;
    const tmp: i32 = order[parent];
    order[parent] = order[child];
    order[child] = tmp;
    parent = child;
  }
}

/**
 * Top-p (nucleus) sampling: among the tokens with the highest probabilities whose cumulative
 * probability first exceeds topp, sample proportionally. Tokens below (1 - topp) / (n - 1) cannot
 * be part of the nucleus and are dropped before sorting. `order` is scratch space of n entries.
 *
 * llama2.c sorts all candidates; here a heap with the first candidate at its root is popped only
 * as far as the nucleus goes. `before` is a total order on the candidates (none is NaN: NaN fails
 * the cutoff), so the nucleus and its order are the sort's, and the sums are taken in the same order.
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
  // none passes (NaN probabilities): llama2.c reads before its array; here the whole distribution
  if (n0 === 0) return sampleMult(probs, n, coin);
  // each pop moves the first remaining candidate to the end of the shrinking heap: the nucleus
  // collects at order[n0 - 1], order[n0 - 2], ... in candidate order
  for (let i: i32 = (n0 >> 1) - 1; i >= 0; i--) siftDownFirst(order, probs, i, n0);
  let cumulative: f32 = 0;
  let last: i32 = 0; // the nucleus is order[last..n0), its first candidate at n0 - 1
  for (let end: i32 = n0 - 1; end >= 0; end--) {
    const top: i32 = order[0];
    order[0] = order[end];
    order[end] = top;
    siftDownFirst(order, probs, 0, end);
    cumulative = fround(cumulative + probs[top]);
    last = end;
    if (cumulative > topp) break;
  }
  const r: f32 = fround(coin * cumulative);
  let cdf: f32 = 0;
  for (let i: i32 = n0 - 1; i > last; i--) {
    cdf = fround(cdf + probs[order[i]]);
    if (r < cdf) return order[i];
  }
  return order[last];
}

/**
 * The next token from the logits (llama2.c run.c `sample`): greedy when temperature is 0;
 * otherwise the logits are divided by the temperature, turned into probabilities in place, and
 * sampled with one coin from the RNG, top-p when 0 < topp < 1, from the whole distribution else.
 */
export function sampleNext(logits: Float32Array, n: i32, temperature: f32, topp: f32, order: Int32Array, rngState: BigUint64Array): i32 {
  if (temperature === 0) return argmax(logits, n);
  // x / 1 is x: at temperature 1 (monitor's default) the divisions are skipped, the result the same
  if (temperature !== 1) {
    for (let i: i32 = 0; i < n; i++) {
      logits[i] = fround(logits[i] / temperature);
    }
  }
  softmax(logits, n);
  const coin: f32 = randomF32(rngState);
  if (topp <= 0 || topp >= 1) return sampleMult(logits, n, coin);
  return sampleTopp(logits, n, topp, order, coin);
}
