/**
 * Sampling in integer mode: top-p (nucleus) sampling on the Q16.16 logits with integer weights
 * instead of float32 probabilities, so that a core without an FPU (the Cortex-M0+) samples for a
 * few percent of a forward pass instead of twice one. The steps are llama2.c run.c `sample`'s —
 * divide by the temperature, softmax, drop what cannot be in the nucleus, order by probability
 * (ties: the lower token id), keep the shortest prefix whose mass exceeds topp, draw the coin —
 * computed exactly in 32-bit integers (doc/kernels.md, "Sampling in integer mode"):
 *
 * - d_i = (max - logit_i) / temperature in Q16.16 (a multiply by 1/temperature in Q16.16);
 * - weight_i = e^(-d_i) in Q2.30 (expNegInt, the integer kernels' exponential), shifted right by
 *   the bits of n - 1 so that n of them sum within 31 bits (Q21 for a 512-token vocabulary);
 * - mass thresholds are the weights' sum times topp (Q30) and times (1 - topp) / (n - 1);
 * - the coin is the top 24 of the RNG's 32 bits (the same draw as llama2.c's random_f32).
 *
 * Greedy decoding (temperature 0) stays llama2.c's argmax on the float32 logits.
 */
import { floor, fround, idiv, mulShr, toI32 } from './builtins.js';
import { expNegInt } from './exp-int.js';
import { randomU32 } from './rng.js';
import { argmax } from './sampling.js';
import type { f32, i32 } from './types.js';

/** 32.0 in Q16.16: from there on expNegInt is 0. */
const EXP_ZERO_Q16: i32 = 2097152;
/** 1 / temperature in Q16.16 is kept in [2^8, 2^30]: temperatures from about 6e-5 to 256. */
const INV_TEMP_MIN: i32 = 256;
const INV_TEMP_MAX: i32 = 1073741824;

/** True when candidate a comes before candidate b: the heavier first, on equal weight the lower id. */
function heavierFirst(weights: Int32Array, a: i32, b: i32): boolean {
  return weights[a] > weights[b] || (weights[a] === weights[b] && a < b);
}

/** Moves heap[root] down the heap of the first `size` entries whose root is the first candidate. */
function siftDownHeaviest(heap: Int32Array, weights: Int32Array, root: i32, size: i32): void {
  let parent: i32 = root;
  for (;;) {
    let child: i32 = 2 * parent + 1;
    if (child >= size) return;
    if (child + 1 < size && heavierFirst(weights, heap[child + 1], heap[child])) child = child + 1;
    if (!heavierFirst(weights, heap[child], heap[parent])) return;
    const tmp: i32 = heap[parent];
    heap[parent] = heap[child];
    heap[child] = tmp;
    parent = child;
  }
}

/**
 * 1 / temperature in Q16.16, clamped to [2^8, 2^30] (one float division and one conversion per
 * token; both exact IEEE operations, so C computes the same value).
 */
export function inverseTemperatureQ16(temperature: f32): i32 {
  const inverse: f32 = fround(fround(1 / temperature) * 65536); // exact: a power of two
  if (inverse >= INV_TEMP_MAX) return INV_TEMP_MAX;
  if (inverse <= INV_TEMP_MIN) return INV_TEMP_MIN;
  return toI32(floor(inverse));
}

/**
 * Turns the Q16.16 logits into integer weights in place (see the file's comment) and returns
 * their sum, below 2^31.
 */
export function softmaxWeights(logits: Int32Array, n: i32, invTemp: i32, expTable: Int32Array): i32 {
  let maxVal: i32 = logits[0];
  for (let i: i32 = 1; i < n; i++) {
    if (logits[i] > maxVal) maxVal = logits[i];
  }
  let shift: i32 = 0;
  while ((n - 1) >> shift > 0) shift++;
  const half: i32 = shift > 0 ? 1 << (shift - 1) : 0;
  // (max - logit) from (2^31 - 1) / invTemp · 2^6 + 2^6 on is scaled to 32.0 or more (exp 0):
  // below it the product fits 47 bits and its Q16.16 value 31
  const far: i32 = (idiv(2147483647, invTemp) + 1) << 6;
  let sum: i32 = 0;
  for (let i: i32 = 0; i < n; i++) {
    const distance: i32 = maxVal - logits[i];
    let weight: i32 = 0;
    if (distance < far) {
      const d: i32 = mulShr(distance, invTemp, 16);
      if (d < EXP_ZERO_Q16) weight = (expNegInt(d, expTable) + half) >> shift;
    }
    logits[i] = weight;
    sum += weight;
  }
  return sum;
}

/** Samples from all n weights with a 24-bit coin: the first i whose cumulative weight exceeds coin · sum. */
export function sampleMultWeights(weights: Int32Array, n: i32, sum: i32, coin24: i32): i32 {
  const r: i32 = mulShr(sum, coin24, 24);
  let cdf: i32 = 0;
  for (let i: i32 = 0; i < n; i++) {
    cdf += weights[i];
    if (r < cdf) return i;
  }
  return n - 1;
}

/**
 * Top-p sampling on integer weights (summing to `sum`) with a 24-bit coin: llama2.c's
 * `sample_topp` with its cutoff pre-filter, the order found by a heap that yields candidates
 * heaviest first and stops once the prefix's mass exceeds topp (no full sort). `order` is scratch
 * space of n entries.
 */
export function sampleToppWeights(weights: Int32Array, n: i32, sum: i32, toppQ30: i32, order: Int32Array, coin24: i32): i32 {
  const threshold: i32 = mulShr(sum, toppQ30, 30);
  const cutoff: i32 = n > 1 ? idiv(mulShr(sum, 1073741824 - toppQ30, 30), n - 1) : 0;
  let n0: i32 = 0;
  for (let i: i32 = 0; i < n; i++) {
    if (weights[i] >= cutoff) {
      order[n0] = i;
      n0++;
    }
  }
  // none passes (near-uniform weights and topp below 1/n): the whole distribution
  if (n0 === 0) return sampleMultWeights(weights, n, sum, coin24);
  // a heap with the first candidate at its root; each pop moves it to the end of the shrinking
  // heap, so the nucleus collects at order[n0 - 1], order[n0 - 2], ... in candidate order
  for (let i: i32 = (n0 >> 1) - 1; i >= 0; i--) siftDownHeaviest(order, weights, i, n0);
  let cumulative: i32 = 0;
  let last: i32 = 0; // the nucleus is order[last..n0), first candidate at n0 - 1
  for (let end: i32 = n0 - 1; end >= 0; end--) {
    const top: i32 = order[0];
    order[0] = order[end];
    order[end] = top;
    siftDownHeaviest(order, weights, 0, end);
    cumulative += weights[top];
    last = end;
    if (cumulative > threshold) break;
  }
  const r: i32 = mulShr(cumulative, coin24, 24);
  let cdf: i32 = 0;
  for (let i: i32 = n0 - 1; i > last; i--) {
    cdf += weights[order[i]];
    if (r < cdf) return order[i];
  }
  return order[last];
}

/**
 * The next token in integer mode: argmax of the float32 logits when temperature is 0; otherwise
 * the Q16.16 logits (`logitsFixed`, overwritten with weights) are sampled with one draw of the
 * RNG, top-p when 0 < topp < 1, from the whole distribution else.
 */
export function sampleNextFixed(
  logits: Float32Array,
  logitsFixed: Int32Array,
  n: i32,
  temperature: f32,
  topp: f32,
  order: Int32Array,
  rngState: BigUint64Array,
  expTable: Int32Array,
): i32 {
  if (temperature === 0) return argmax(logits, n);
  const sum: i32 = softmaxWeights(logitsFixed, n, inverseTemperatureQ16(temperature), expTable);
  const coin24: i32 = randomU32(rngState) >>> 8;
  if (topp <= 0 || topp >= 1) return sampleMultWeights(logitsFixed, n, sum, coin24);
  return sampleToppWeights(logitsFixed, n, sum, toI32(floor(fround(topp * 1073741824))), order, coin24);
}
