/**
 * How many bytes a model's weights take at a given precision: what `inspect` prints to compare
 * fp32 with int8 and int4. Norms always stay fp32; a shared classifier is counted once.
 * Groups follow the Model's rule: each row is split into groups, the last one possibly shorter.
 */
import type { Config } from './model.js';
import { LAYER_MATRICES } from './model.js';
import { matrixShape } from './layout.js';

/** One matrix's storage: its dtype and, when quantized, its group size (not a model-wide QuantScheme). */
export type TensorPrecision =
  | { scheme: 'f32' }
  /** int8 values, one fp32 scale per group. */
  | { scheme: 'q8_0'; groupSize: number }
  /** 4-bit values (two per byte), one fp32 scale per group. */
  | { scheme: 'q4_0'; groupSize: number };

/** Bytes of one [rows, cols] matrix at `precision`. */
export function matrixBytes(rows: number, cols: number, precision: TensorPrecision): number {
  if (precision.scheme === 'f32') return rows * cols * 4;
  const scaleBytes = Math.ceil(cols / precision.groupSize) * 4;
  const valueBytes = precision.scheme === 'q8_0' ? cols : Math.ceil(cols / 2);
  return rows * (valueBytes + scaleBytes);
}

/** Bytes of all the model's weights at `precision`. */
export function weightBytes(config: Config, sharedClassifier: boolean, precision: TensorPrecision): number {
  const { dim, nLayers, vocabSize } = config;
  const norms = (2 * nLayers + 1) * dim * 4;
  const embeddings = (sharedClassifier ? 1 : 2) * matrixBytes(vocabSize, dim, precision);
  let layers = 0;
  for (const matrix of LAYER_MATRICES) layers += matrixBytes(...matrixShape(config, matrix), precision);
  return norms + embeddings + nLayers * layers;
}
