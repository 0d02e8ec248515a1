/**
 * The integer mode's view of a Q8_0, Q4_0 or mixed model (doc/kernels.md, "Integer mode"): every number the
 * integer kernels read, converted once, on the host, from the float32 numbers of the checkpoint.
 *
 * - Group scales: ws = round(scale / 127 · 2^shift), one `shift` per kind of matrix (the same for
 *   all layers, so that it is a constant of the generated C), the largest that keeps every scale of
 *   that kind below 2^15: stored in 16 bits (half the flash a token reads for them), and 16-bit
 *   operands for the matmul's fixed-point product.
 * - RMSNorm weights: Q16.16. RoPE tables: Q2.30. The exponential: 65 powers of two in Q5.27.
 *
 * The reference engine (src/engine/transformer-int.ts) and the code generator both read these, so
 * the firmware and the engine compute with the same integers.
 */
import type { Config, Model, Q4Tensor, Q8Tensor, Tensor } from '../checkpoint/model.js';
import { LAYER_MATRICES, q4RowBytes, type LayerMatrixName } from '../checkpoint/model.js';
import { buildRopeTables } from '../checkpoint/rope-tables.js';
import { roundHalfAway } from '../kernels/builtins.js';
import { UserError } from '../util/errors.js';

/** A Q8_0 matrix of the integer mode: int8 values and fixed-point group scales. */
export interface FixedQ8Matrix {
  dtype: 'q8_0';
  rows: number;
  cols: number;
  groupSize: number;
  q: Int8Array;
  /** round(scale / 127 · 2^scaleShift), one per group: below 2^15 in magnitude (scaleShiftFor), so 16 bits. */
  scales: Int16Array;
  scaleShift: number;
}

/**
 * A Q4_0 matrix of the integer mode: the 4-bit values in row-pair words (q4PairWords, the layout
 * of src/kernels/matmul-q4-int.ts) and fixed-point scales as FixedQ8Matrix's.
 */
export interface FixedQ4Matrix {
  dtype: 'q4_0';
  rows: number;
  cols: number;
  groupSize: number;
  q: Int32Array;
  scales: Int16Array;
  scaleShift: number;
}

export type FixedMatrix = FixedQ8Matrix | FixedQ4Matrix;

export interface FixedLayer {
  rmsAtt: Int32Array;
  rmsFfn: Int32Array;
  wq: FixedMatrix;
  wk: FixedMatrix;
  wv: FixedMatrix;
  wo: FixedMatrix;
  w1: FixedMatrix;
  w2: FixedMatrix;
  w3: FixedMatrix;
}

export interface FixedModel {
  config: Config;
  groupSize: number;
  tokenEmbedding: FixedMatrix;
  /** The same object as tokenEmbedding when the checkpoint shares them. */
  classifier: FixedMatrix;
  sharedClassifier: boolean;
  layers: FixedLayer[];
  rmsFinal: Int32Array;
}

/** The integer kernels' constant tables for a context of `seqLen`. */
export interface FixedTables {
  ropeCos: Int32Array;
  ropeSin: Int32Array;
  /** round(2^(-i/64) · 2^27), i = 0..64 (kernel exp2NegInt). */
  exp: Int32Array;
  /** The KV cache's scales by code (kernel quantizeKvInt): kvScaleTable(). */
  kvScale: Int32Array;
}

/**
 * The scales a KV cache code stands for (Q16.16): code 0 is 0 (an all-zero group), code c >= 1 is
 * round(2^((c-1)/8)), 8 codes per octave over the 31 octaves of a positive int32, capped at
 * 2^31 - 1 from code 249 on. Never decreasing, so that quantizeKvInt's binary search finds the
 * smallest scale >= a group's max.
 */
export function kvScaleTable(): Int32Array {
  const table = new Int32Array(256);
  for (let c = 1; c < 256; c++) table[c] = Math.min(2 ** 31 - 1, Math.round(2 ** ((c - 1) / 8)));
  return table;
}

/**
 * Scales stay below 2^15, so that the matmul's mulShr(ws, ·, shift) takes its short path on the
 * M0+ (a 16-bit first operand: two products, not four): the largest scale of a matrix keeps 15
 * bits, a group 16 times smaller 11, GGML's fp16 scales' precision. Shifts from 17 (the matmul
 * subtracts 16) to 62 (the limit of mulShr).
 */
const SCALE_LIMIT = 2 ** 15;
const MIN_SHIFT = 17;
const MAX_SHIFT = 62;

/** Q16.16 and Q2.30 conversions of float32 numbers, rounding half away from zero. */
export function toQ16(values: Float32Array): Int32Array {
  return Int32Array.from(values, (v) => checkedInt(roundHalfAway(v * 65536), 'a Q16.16 value'));
}

function toQ30(values: Float32Array): Int32Array {
  return Int32Array.from(values, (v) => checkedInt(roundHalfAway(v * 2 ** 30), 'a Q2.30 value'));
}

function checkedInt(v: number, what: string): number {
  if (v > 2147483647 || v < -2147483648)
    throw new UserError(
      `integer mode: ${what} out of range (${v}); this model's numbers are too large for the fixed-point kernels — build without --arithmetic integer.`,
    );
  return v;
}

/** The largest shift that keeps round(max / 127 · 2^shift) below 2^15. */
export function scaleShiftFor(maxScale: number): number {
  if (!(maxScale > 0)) return 30;
  let shift = MAX_SHIFT;
  while (shift > MIN_SHIFT && Math.round((maxScale / 127) * 2 ** shift) >= SCALE_LIMIT) shift--;
  if (Math.round((maxScale / 127) * 2 ** shift) >= SCALE_LIMIT) {
    throw new UserError(
      `integer mode: a group scale of ${maxScale} is too large for the fixed-point matmul; build without --arithmetic integer.`,
    );
  }
  return shift;
}

function requireQuantized(t: Tensor, name: string): Q8Tensor | Q4Tensor {
  if (t.dtype === 'f32') {
    throw new UserError(
      `integer mode needs quantized weights, but ${name} is f32; build with --quant q8_0, q4_0 or mixed (or without --arithmetic integer).`,
    );
  }
  if (t.dtype === 'q4_0' && !fitsQ4Pairs(t)) {
    throw new UserError(
      `integer mode reads Q4_0 matrices two rows and 16 columns at a time: it needs an even number of rows and columns and a group size ` +
        `that are multiples of 16, but ${name} is ${t.rows} × ${t.cols} in groups of ${t.groupSize}. Quantize with --group-size 32, or use --quant q8_0.`,
    );
  }
  return t;
}

/** Whether a Q4_0 matrix's shape suits the integer kernels' row-pair layout (see matmul-q4-int.ts). */
export function fitsQ4Pairs(t: { rows: number; cols: number; groupSize: number }): boolean {
  return t.rows % 2 === 0 && t.cols % 16 === 0 && t.groupSize % 16 === 0;
}

/**
 * The values of a Q4_0 tensor (Q4Tensor's packing: row by row, two per byte) in row-pair words:
 * word k of pair p holds columns 4k..4k+3 of row 2p in bits 0..15 and of row 2p + 1 in bits
 * 16..31, a nibble each (the stored v + 8), column 4k + c at bits 4c and 16 + 4c.
 */
export function q4PairWords(t: Q4Tensor): Int32Array {
  const rowBytes = q4RowBytes(t.cols);
  const wordsPerPair = t.cols / 4;
  const out = new Int32Array((t.rows / 2) * wordsPerPair);
  for (let row = 0; row < t.rows; row++) {
    for (let j = 0; j < t.cols; j++) {
      const nibble = (t.q[row * rowBytes + (j >> 1)] >> ((j & 1) << 2)) & 15;
      out[(row >> 1) * wordsPerPair + (j >> 2)] |= nibble << ((row & 1) * 16 + (j & 3) * 4);
    }
  }
  return out;
}

function fixedMatrix(t: Q8Tensor | Q4Tensor, shift: number): FixedMatrix {
  // Q4_0 scales may be negative (src/quant/q4.ts): the shift keeps their magnitude below 2^15
  const scales = Int16Array.from(t.scales, (s) => Math.round((s / 127) * 2 ** shift));
  const shape = { rows: t.rows, cols: t.cols, groupSize: t.groupSize, scales, scaleShift: shift };
  return t.dtype === 'q8_0' ? { dtype: 'q8_0', q: t.q, ...shape } : { dtype: 'q4_0', q: q4PairWords(t), ...shape };
}

/** The largest magnitude among the scales (Q8_0's are never negative, Q4_0's may be). */
function maxOf(values: Float32Array): number {
  let m = 0;
  for (const v of values) if (Math.abs(v) > m) m = Math.abs(v);
  return m;
}

/**
 * The integer mode's view of `model`, converted as above (the int8 values are shared, not copied; the int4 ones
 * rearranged in row-pair words). Throws a UserError unless every matrix is Q8_0 or Q4_0 (in the shapes fitsQ4Pairs
 * allows) with one group size, or when a number does not fit its fixed-point format.
 */
export function toFixedPoint(model: Model): FixedModel {
  const embedding = requireQuantized(model.tokenEmbedding, 'the token embedding');
  const classifier = model.sharedClassifier ? embedding : requireQuantized(model.classifier, 'the classifier');
  const groupSize = embedding.groupSize;
  const matrices = model.layers.map(
    (l, i) =>
      Object.fromEntries(LAYER_MATRICES.map((m) => [m, requireQuantized(l[m], `layers.${i}.${m}`)])) as Record<
        LayerMatrixName,
        Q8Tensor | Q4Tensor
      >,
  );
  for (const [i, l] of matrices.entries()) {
    for (const m of LAYER_MATRICES) {
      if (l[m].groupSize !== groupSize)
        throw new UserError(`integer mode needs one group size; layers.${i}.${m} has ${l[m].groupSize}, the embedding ${groupSize}.`);
    }
  }
  const shifts = Object.fromEntries(
    LAYER_MATRICES.map((m) => [m, scaleShiftFor(Math.max(...matrices.map((l) => maxOf(l[m].scales))))]),
  ) as Record<LayerMatrixName, number>;
  const tokenEmbedding = fixedMatrix(embedding, scaleShiftFor(maxOf(embedding.scales)));
  return {
    config: model.config,
    groupSize,
    tokenEmbedding,
    classifier: model.sharedClassifier ? tokenEmbedding : fixedMatrix(classifier, scaleShiftFor(maxOf(classifier.scales))),
    sharedClassifier: model.sharedClassifier,
    layers: model.layers.map((l, i) => ({
      rmsAtt: toQ16(l.rmsAtt),
      rmsFfn: toQ16(l.rmsFfn),
      ...(Object.fromEntries(LAYER_MATRICES.map((m) => [m, fixedMatrix(matrices[i][m], shifts[m])])) as Record<
        LayerMatrixName,
        FixedMatrix
      >),
    })),
    rmsFinal: toQ16(model.rmsFinal),
  };
}

/** The integer kernels' tables for `seqLen` positions: RoPE in Q2.30, the exponential, the KV cache's scales. */
export function fixedTables(config: Config, seqLen: number): FixedTables {
  const rope = buildRopeTables(config, seqLen);
  const exp = new Int32Array(65);
  for (let i = 0; i <= 64; i++) exp[i] = Math.round(2 ** (-i / 64) * 2 ** 27);
  return { ropeCos: toQ30(rope.cos), ropeSin: toQ30(rope.sin), exp, kvScale: kvScaleTable() };
}
