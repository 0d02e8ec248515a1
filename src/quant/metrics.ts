/**
 * What quantization costs, measured: pure functions over arrays, with no model or engine in sight
 * (src/report/model-metrics.ts runs the engine). Everything is computed in double precision.
 *
 * - weight error: the largest absolute error, the root mean square error and the
 *   signal-to-quantization-noise ratio `SQNR = 10 · log10(Σ w² / Σ (w − ŵ)²)` in dB, where w is the
 *   fp32 weight and ŵ the dequantized one (each 6 dB is one more bit of precision);
 * - distributions: log-softmax, the Kullback-Leibler divergence KL(p ‖ q) of two next-token
 *   distributions, the negative log-likelihood of a token, perplexity;
 * - sizes: the bytes a tensor takes in its precision;
 * - the quantization grid of one group (the values `scale · k` its weights can take) and a histogram.
 */
import type { Q4Tensor, Q8Tensor, Tensor } from '../checkpoint/model.js';
import { groupsPerRow, q4RowBytes } from '../checkpoint/model.js';

/** A matrix with integer levels and a scale per group. */
export type QuantizedTensor = Q8Tensor | Q4Tensor;

export interface ErrorStats {
  /** Number of values compared. */
  count: number;
  /** max |w − ŵ|. */
  maxAbsError: number;
  /** sqrt(Σ (w − ŵ)² / count). */
  rmse: number;
  /** Σ w²: the energy of the signal. */
  signalEnergy: number;
  /** Σ (w − ŵ)²: the energy of the quantization noise. */
  noiseEnergy: number;
  /** 10 · log10(signalEnergy / noiseEnergy); Infinity when there is no noise (an exact copy). */
  sqnrDb: number;
}

/**
 * Signal-to-noise ratio in dB. No noise gives Infinity (nothing was lost, even for an all-zero
 * signal); a zero signal with some noise gives -Infinity.
 */
export function sqnrDb(signalEnergy: number, noiseEnergy: number): number {
  if (noiseEnergy === 0) return Infinity;
  if (signalEnergy === 0) return -Infinity;
  return 10 * Math.log10(signalEnergy / noiseEnergy);
}

/** How far `approx` is from `original` (same length): see ErrorStats. */
export function errorStats(original: ArrayLike<number>, approx: ArrayLike<number>): ErrorStats {
  if (original.length !== approx.length) {
    throw new RangeError(`errorStats: the arrays differ in length (${original.length} and ${approx.length})`);
  }
  const n = original.length;
  let maxAbsError = 0;
  let signalEnergy = 0;
  let noiseEnergy = 0;
  for (let i = 0; i < n; i++) {
    const w = original[i];
    const e = w - approx[i];
    const a = Math.abs(e);
    if (a > maxAbsError) maxAbsError = a;
    signalEnergy += w * w;
    noiseEnergy += e * e;
  }
  return {
    count: n,
    maxAbsError,
    rmse: n > 0 ? Math.sqrt(noiseEnergy / n) : 0,
    signalEnergy,
    noiseEnergy,
    sqnrDb: sqnrDb(signalEnergy, noiseEnergy),
  };
}

/** Bytes of a tensor in its own precision: values (fp32, int8, or packed int4 rows) plus fp32 scales. */
export function tensorBytes(t: Tensor): number {
  switch (t.dtype) {
    case 'f32':
      return t.rows * t.cols * 4;
    case 'q8_0':
      return t.rows * t.cols + t.rows * groupsPerRow(t) * 4;
    case 'q4_0':
      return t.rows * q4RowBytes(t.cols) + t.rows * groupsPerRow(t) * 4;
  }
}

/**
 * log softmax(logits) in double precision: `logits[i] − max − log Σ exp(logits[j] − max)`.
 * Writes into `out` when given (it must be at least as long), else into a new array.
 */
export function logSoftmax(logits: ArrayLike<number>, out = new Float64Array(logits.length)): Float64Array {
  const n = logits.length;
  if (n === 0) throw new RangeError('logSoftmax: no logits');
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i] - max);
  const logSum = Math.log(sum);
  for (let i = 0; i < n; i++) out[i] = logits[i] - max - logSum;
  return out;
}

/**
 * KL(p ‖ q) = Σ p_i · (log p_i − log q_i) in nats, from log-probabilities (logSoftmax): how much
 * information is lost when q stands in for p. 0 for equal distributions, never negative (a tiny
 * negative sum from rounding is returned as 0).
 */
export function klDivergence(logP: ArrayLike<number>, logQ: ArrayLike<number>): number {
  if (logP.length !== logQ.length) throw new RangeError(`klDivergence: ${logP.length} and ${logQ.length} log-probabilities`);
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const lp = logP[i];
    if (lp === -Infinity) continue; // p_i = 0 contributes nothing
    kl += Math.exp(lp) * (lp - logQ[i]);
  }
  return Math.max(0, kl);
}

/** Index of the largest value; the first one on ties (as the sampling kernel's argmax). */
export function argmaxOf(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** −log p(token), in nats, from log-probabilities. */
export function negativeLogLikelihood(logP: ArrayLike<number>, token: number): number {
  if (!(token >= 0 && token < logP.length)) throw new RangeError(`negativeLogLikelihood: token ${token} outside 0..${logP.length - 1}`);
  return -logP[token];
}

/** exp(mean negative log-likelihood): the number of equally likely tokens the model hesitates between. */
export function perplexity(totalNll: number, tokens: number): number {
  if (tokens <= 0) throw new RangeError('perplexity: no tokens');
  return Math.exp(totalNll / tokens);
}

/** The integer levels a precision has: Q8_0 −127..127, Q4_0 −8..7. */
export function levelRange(dtype: QuantizedTensor['dtype']): { min: number; max: number } {
  return dtype === 'q8_0' ? { min: -127, max: 127 } : { min: -8, max: 7 };
}

/**
 * The values a group can hold after quantization, `fround(k · scale)` for every level k, in
 * increasing order (a negative Q4_0 scale reverses k, see src/quant/q4.ts).
 */
export function groupGrid(t: QuantizedTensor, row: number, group: number): { scale: number; levels: number[] } {
  const groups = groupsPerRow(t);
  if (!(row >= 0 && row < t.rows && group >= 0 && group < groups)) {
    throw new RangeError(`groupGrid: row ${row}, group ${group} outside a ${t.rows}-row tensor with ${groups} groups per row`);
  }
  const scale = t.scales[row * groups + group];
  const { min, max } = levelRange(t.dtype);
  const levels = new Set<number>();
  for (let k = min; k <= max; k++) levels.add(Math.fround(k * scale) + 0); // + 0 turns -0 into 0
  return { scale, levels: [...levels].sort((a, b) => a - b) };
}

/** The row and group of value `index` of a row-major tensor `[rows, cols]` with `groupSize`. */
export function groupOf(index: number, cols: number, groupSize: number): { row: number; group: number } {
  const row = Math.floor(index / cols);
  return { row, group: Math.floor((index - row * cols) / groupSize) };
}

/** Index of the value with the largest magnitude (the first one on ties). */
export function indexOfMaxAbs(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (Math.abs(values[i]) > Math.abs(values[best])) best = i;
  return best;
}

export interface Histogram {
  /** Left edge of the first bin. */
  lo: number;
  /** Right edge of the last bin. */
  hi: number;
  /** counts[b] values fell in [lo + b·w, lo + (b+1)·w), w = (hi − lo) / bins; the last bin includes hi. */
  counts: number[];
}

/** Counts of `values` in `bins` equal bins over [lo, hi] (default: the values' own range). Values outside are not counted. */
export function histogram(values: ArrayLike<number>, bins: number, lo?: number, hi?: number): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`histogram: bins must be a positive integer, got ${bins}`);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  let left = lo ?? (values.length ? min : 0);
  let right = hi ?? (values.length ? max : 1);
  if (right === left) {
    left -= 0.5;
    right += 0.5;
  }
  const counts = new Array<number>(bins).fill(0);
  const width = (right - left) / bins;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < left || v > right) continue;
    counts[Math.min(bins - 1, Math.floor((v - left) / width))]++;
  }
  return { lo: left, hi: right, counts };
}
