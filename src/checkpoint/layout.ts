/**
 * Where every array lives in a llama2.c checkpoint file, for each of the three formats.
 * Reading, writing, size checks and `inspect` all walk the same list, so they cannot disagree.
 *
 *   v0 (run.c):  28-byte header; fp32 token_embedding, rms_att (all layers), wq, wk, wv, wo, rms_ffn,
 *                w1, w2, w3 (each for all layers), rms_final, freq_cis_real, freq_cis_imag, [wcls]
 *   v1:          256-byte header; fp32 rms_att (all layers), rms_ffn (all layers), rms_final,
 *                token_embedding, wq, wk, wv, wo, w1, w2, w3 (each for all layers), [wcls]
 *   v2 (runq.c): as v1, but token_embedding, the layer matrices and wcls are Q8_0: each one's int8
 *                values, then its fp32 scales (one per group of `groupSize` consecutive values)
 *
 * `[wcls]` is present only when the classifier is not shared with the token embedding.
 */
import type { CheckpointHeader } from './header.js';
import type { CheckpointFormat, Config, LayerMatrixName, Model, Tensor, WeightDType } from './model.js';
import { headSize, kvDim, LAYER_MATRICES } from './model.js';

/** "ak42" read as a little-endian uint32: the first four bytes of a v1 or v2 file. */
export const CHECKPOINT_MAGIC = 0x616b3432;
export const V0_HEADER_BYTES = 7 * 4;
export const VERSIONED_HEADER_BYTES = 256;

/** Bytes of the fixed header (for our own format, the tensor table that follows is not counted). */
export function headerBytes(format: CheckpointFormat): number {
  if (format === 'own') return OWN_FIXED_HEADER_BYTES;
  return format === 'v0' ? V0_HEADER_BYTES : VERSIONED_HEADER_BYTES;
}

/** The fixed header of our own format (src/checkpoint/own-format.ts), before its tensor table. */
const OWN_FIXED_HEADER_BYTES = 64;

/** checkpointLayout and checkpointBytes describe llama2.c's formats; our own format's layout is its tensor table (storedTensors). */
function llama2cFormatOnly(what: string, format: CheckpointFormat): void {
  if (format === 'own') {
    throw new Error(
      `${what}: the own format's layout is its tensor table: use storedTensors(header), or ownTensorTable(model) in own-format.ts`,
    );
  }
}

/** Where a stored array belongs in the Model. */
export type Slot =
  | { kind: 'tokenEmbedding' }
  | { kind: 'classifier' }
  | { kind: 'rmsFinal' }
  | { kind: 'layerNorm'; layer: number; norm: 'rmsAtt' | 'rmsFfn' }
  | { kind: 'layerMatrix'; layer: number; matrix: LayerMatrixName }
  | { kind: 'freqCis'; part: 'real' | 'imag' };

export interface LayoutEntry {
  /** `token_embedding`, `layers.3.wq`, `layers.3.rms_att`, `rms_final`, `freq_cis_real`, `wcls`. */
  name: string;
  slot: Slot;
  /** Vectors (norms) have one row. */
  rows: number;
  cols: number;
  /** `q8_0`: `rows * cols` int8 values followed by `scaleCount` fp32 scales. */
  storage: 'f32' | 'q8_0';
  /** Byte offset in the file. */
  offset: number;
  /** Bytes in the file, scales included. */
  bytes: number;
  /** q8_0 only: how many fp32 scales follow the int8 values (runq.c reads `rows * cols / groupSize`). */
  scaleCount?: number;
}

/** The shape `[rows, cols]` of a layer matrix (applied as `out[rows] = W · x[cols]`). */
export function matrixShape(config: Config, matrix: LayerMatrixName): [number, number] {
  const { dim, hiddenDim } = config;
  switch (matrix) {
    case 'wq':
    case 'wo':
      return [dim, dim];
    case 'wk':
    case 'wv':
      return [kvDim(config), dim];
    case 'w1':
    case 'w3':
      return [hiddenDim, dim];
    case 'w2':
      return [dim, hiddenDim];
  }
}

/** Snake-case names as in llama2.c (`rms_att`), for the norms kept camelCase in the Model. */
const NORM_NAMES = { rmsAtt: 'rms_att', rmsFfn: 'rms_ffn' } as const;

/**
 * The arrays of a checkpoint in file order, with their offsets. `groupSize` is required for v2.
 * `config.vocabSize` is the (positive) vocabulary size; whether the classifier is stored is `sharedClassifier`.
 */
export function checkpointLayout(config: Config, format: CheckpointFormat, sharedClassifier: boolean, groupSize?: number): LayoutEntry[] {
  llama2cFormatOnly('checkpointLayout', format);
  if (format === 'v2' && !(groupSize !== undefined && groupSize > 0)) {
    throw new Error(`checkpointLayout: a v2 layout needs a positive group size, got ${groupSize}`);
  }
  const { dim, nLayers, vocabSize, seqLen } = config;
  const matrixStorage = format === 'v2' ? 'q8_0' : 'f32';
  const entries: LayoutEntry[] = [];
  let offset = headerBytes(format);

  const add = (name: string, slot: Slot, rows: number, cols: number, storage: 'f32' | 'q8_0'): void => {
    const values = rows * cols;
    const bytes = storedBytes(values, storage, groupSize);
    const entry: LayoutEntry = { name, slot, rows, cols, storage, offset, bytes };
    // runq.c: the scales of a flattened tensor of n values are n / GS (integer division).
    if (storage === 'q8_0') entry.scaleCount = Math.floor(values / (groupSize as number));
    entries.push(entry);
    offset += bytes;
  };
  const tokenEmbedding = (): void => add('token_embedding', { kind: 'tokenEmbedding' }, vocabSize, dim, matrixStorage);
  const norms = (norm: 'rmsAtt' | 'rmsFfn'): void => {
    for (let layer = 0; layer < nLayers; layer++) {
      add(`layers.${layer}.${NORM_NAMES[norm]}`, { kind: 'layerNorm', layer, norm }, 1, dim, 'f32');
    }
  };
  const matrices = (matrix: LayerMatrixName): void => {
    const [rows, cols] = matrixShape(config, matrix);
    for (let layer = 0; layer < nLayers; layer++) {
      add(`layers.${layer}.${matrix}`, { kind: 'layerMatrix', layer, matrix }, rows, cols, matrixStorage);
    }
  };
  const rmsFinal = (): void => add('rms_final', { kind: 'rmsFinal' }, 1, dim, 'f32');
  const classifier = (): void => {
    if (!sharedClassifier) add('wcls', { kind: 'classifier' }, vocabSize, dim, matrixStorage);
  };

  if (format === 'v0') {
    tokenEmbedding();
    norms('rmsAtt');
    for (const m of ['wq', 'wk', 'wv', 'wo'] as const) matrices(m);
    norms('rmsFfn');
    for (const m of ['w1', 'w2', 'w3'] as const) matrices(m);
    rmsFinal();
    const half = headSize(config) / 2;
    add('freq_cis_real', { kind: 'freqCis', part: 'real' }, seqLen, half, 'f32');
    add('freq_cis_imag', { kind: 'freqCis', part: 'imag' }, seqLen, half, 'f32');
    classifier();
  } else {
    norms('rmsAtt');
    norms('rmsFfn');
    rmsFinal();
    tokenEmbedding();
    for (const m of LAYER_MATRICES) matrices(m);
    classifier();
  }
  return entries;
}

/** A stored array of a checkpoint in any format, for describing files (`inspect`). */
export interface StoredTensor {
  name: string;
  slot: Slot;
  rows: number;
  cols: number;
  dtype: WeightDType;
  /** Quantized tensors only. */
  groupSize?: number;
  offset: number;
  bytes: number;
}

/** Every array of a checkpoint whose header has been read, in file order: llama2.c's layouts, or our own format's table. */
export function storedTensors(header: CheckpointHeader): StoredTensor[] {
  if (header.tensors) {
    return header.tensors.map(({ name, slot, rows, cols, dtype, groupSize, offset, bytes }) => ({
      name,
      slot,
      rows,
      cols,
      dtype,
      ...(dtype !== 'f32' ? { groupSize } : {}),
      offset,
      bytes,
    }));
  }
  const { config, format, sharedClassifier, groupSize } = header;
  return checkpointLayout(config, format, sharedClassifier, groupSize).map(({ name, slot, rows, cols, storage, offset, bytes }) => ({
    name,
    slot,
    rows,
    cols,
    dtype: storage,
    ...(storage === 'q8_0' ? { groupSize } : {}),
    offset,
    bytes,
  }));
}

/** Bytes one stored array takes: fp32 values, or int8 values plus runq.c's `n / groupSize` fp32 scales. */
export function storedBytes(values: number, storage: 'f32' | 'q8_0', groupSize?: number): number {
  return storage === 'f32' ? values * 4 : values + Math.floor(values / (groupSize as number)) * 4;
}

/**
 * The size in bytes of a checkpoint file with this header. Computed arithmetically (it equals the
 * end of the last `checkpointLayout` entry), so it stays cheap for any header, however absurd.
 */
export function checkpointBytes(config: Config, format: CheckpointFormat, sharedClassifier: boolean, groupSize?: number): number {
  llama2cFormatOnly('checkpointBytes', format);
  const { dim, nLayers, vocabSize, seqLen } = config;
  const matrixStorage = format === 'v2' ? 'q8_0' : 'f32';
  let bytes = headerBytes(format) + (2 * nLayers + 1) * dim * 4; // header and norms
  const embeddings = sharedClassifier ? 1 : 2;
  bytes += embeddings * storedBytes(vocabSize * dim, matrixStorage, groupSize);
  for (const matrix of LAYER_MATRICES) {
    const [rows, cols] = matrixShape(config, matrix);
    bytes += nLayers * storedBytes(rows * cols, matrixStorage, groupSize);
  }
  if (format === 'v0') bytes += 2 * seqLen * (headSize(config) / 2) * 4; // freq_cis_real, freq_cis_imag
  return bytes;
}

/** Bytes a stored (unshared) classifier adds to the file. */
export function classifierBytes(config: Config, format: CheckpointFormat, groupSize?: number): number {
  return storedBytes(config.vocabSize * config.dim, format === 'v2' ? 'q8_0' : 'f32', groupSize);
}

/** The array a layout entry stores, taken from a Model (norms and RoPE tables are plain float arrays). */
export function arrayAt(model: Model, slot: Slot): Tensor | Float32Array | undefined {
  switch (slot.kind) {
    case 'tokenEmbedding':
      return model.tokenEmbedding;
    case 'classifier':
      return model.classifier;
    case 'rmsFinal':
      return model.rmsFinal;
    case 'layerNorm':
      return model.layers[slot.layer]?.[slot.norm];
    case 'layerMatrix':
      return model.layers[slot.layer]?.[slot.matrix];
    case 'freqCis':
      return model.freqCis?.[slot.part];
  }
}

/** A short human name for a format, as used in messages and by `inspect`. */
export function describeFormat(format: CheckpointFormat): string {
  switch (format) {
    case 'v0':
      return 'legacy v0 (run.c: fp32, no magic)';
    case 'v1':
      return 'version 1 (fp32, magic "ak42")';
    case 'v2':
      return 'version 2 (Q8_0, runq.c, magic "ak42")';
    case 'own':
      return 'llama2-embed version 1 (f32/Q8_0/Q4_0 per tensor, magic "L2EQ")';
  }
}
