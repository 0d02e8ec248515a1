/**
 * The in-memory model: llama2.c's `Config` and `TransformerWeights`, with every weight matrix
 * carried as a named tensor that knows its shape and precision.
 *
 * Weight matrices are row-major `[rows, cols]` and are applied as `out[rows] = W · x[cols]`,
 * exactly as llama2.c stores them (wq is [dim, dim], w1 is [hidden_dim, dim], w2 is [dim, hidden_dim]).
 */

export interface Config {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
}

/** The width of one attention head, dim / n_heads (RoPE rotates its values in pairs). */
export function headSize(c: Config): number {
  return c.dim / c.nHeads;
}

/**
 * The width of the keys and values, dim · n_kv_heads / n_heads: the rows of wk and wv, and one
 * position of one layer's KV cache (less than dim when heads share their keys and values).
 */
export function kvDim(c: Config): number {
  return (c.dim * c.nKvHeads) / c.nHeads;
}

/**
 * The file formats: llama2.c's legacy v0 (run.c), version 1 (fp32 with magic), version 2 (Q8_0,
 * runq.c), and llama2-embed's own format (`own`, magic "L2EQ", src/checkpoint/own-format.ts), which
 * stores each tensor in its own precision (f32, Q8_0 or Q4_0) with its own group size.
 */
export type CheckpointFormat = 'v0' | 'v1' | 'v2' | 'own';

export interface F32Tensor {
  dtype: 'f32';
  rows: number;
  cols: number;
  data: Float32Array;
}

/**
 * Q8_0: symmetric int8 in [-127, 127] with one fp32 scale per group. Each row is split into groups
 * of `groupSize` values; the last group of a row may be shorter. A group never straddles two rows.
 * `scales[row * groupsPerRow(t) + g]` belongs to values `[g * groupSize, min((g + 1) * groupSize, cols))` of `row`.
 */
export interface Q8Tensor {
  dtype: 'q8_0';
  rows: number;
  cols: number;
  groupSize: number;
  q: Int8Array;
  scales: Float32Array;
}

/**
 * Q4_0: symmetric 4-bit integers v in [-8, 7] with one fp32 scale per group (value ≈ v · scale; the
 * scale may be negative, see src/quant/q4.ts). Groups are as in Q8_0: `groupSize` values of one row,
 * the last group of a row possibly shorter, never straddling rows; `scales[row * groupsPerRow(t) + g]`.
 *
 * Packing: each row takes `q4RowBytes(cols) = ceil(cols / 2)` bytes, rows one after the other
 * (an odd-length row ends with a half-used byte whose high nibble is 0). Values j and j + 1 of a row
 * (j even) share byte `row * q4RowBytes(cols) + j / 2`: the low nibble holds value j, the high nibble
 * value j + 1, each stored as the unsigned number v + 8 in 0..15. So value j of row r is
 * `((q[r * rowBytes + (j >> 1)] >> (4 * (j & 1))) & 15) - 8`.
 */
export interface Q4Tensor {
  dtype: 'q4_0';
  rows: number;
  cols: number;
  groupSize: number;
  /** Packed, two values per byte: see above. */
  q: Uint8Array;
  scales: Float32Array;
}

/** Bytes one row of Q4_0 values takes: two values per byte, an odd row padded to a whole byte. */
export function q4RowBytes(cols: number): number {
  return Math.ceil(cols / 2);
}

export type Tensor = F32Tensor | Q8Tensor | Q4Tensor;
export type WeightDType = Tensor['dtype'];

/** Scale groups per row of a Q8_0 or Q4_0 tensor (the last one possibly short): the row stride of `scales`. */
export function groupsPerRow(t: { cols: number; groupSize: number }): number {
  return Math.ceil(t.cols / t.groupSize);
}

export interface LayerWeights {
  rmsAtt: Float32Array; // [dim]
  wq: Tensor; // [dim, dim]
  wk: Tensor; // [kv_dim, dim]
  wv: Tensor; // [kv_dim, dim]
  wo: Tensor; // [dim, dim]
  rmsFfn: Float32Array; // [dim]
  w1: Tensor; // [hidden_dim, dim]
  w2: Tensor; // [dim, hidden_dim]
  w3: Tensor; // [hidden_dim, dim]
}

export const LAYER_MATRICES = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'] as const;
export type LayerMatrixName = (typeof LAYER_MATRICES)[number];

export interface Model {
  config: Config;
  /** The format the model was read from (or will be written as). */
  format: CheckpointFormat;
  tokenEmbedding: Tensor; // [vocab_size, dim]
  layers: LayerWeights[];
  rmsFinal: Float32Array; // [dim]
  /** The output projection [vocab_size, dim]; the same object as `tokenEmbedding` when shared. */
  classifier: Tensor;
  sharedClassifier: boolean;
  /** v0 files carry RoPE tables that run.c ignores; kept so that a v0 file round-trips byte for byte. */
  freqCis?: { real: Float32Array; imag: Float32Array };
}

/** Number of parameters (each weight counted once; a shared classifier is not counted twice). */
export function parameterCount(m: Model): number {
  const c = m.config;
  const perLayer = 2 * c.dim + c.dim * c.dim * 2 + 2 * kvDim(c) * c.dim + 3 * c.dim * c.hiddenDim;
  return c.vocabSize * c.dim + c.nLayers * perLayer + c.dim + (m.sharedClassifier ? 0 : c.vocabSize * c.dim);
}
