/**
 * Q8_0 weight quantization: symmetric int8 in [-127, 127] with one fp32 scale per group of
 * `groupSize` values of a row (the last group of a row may be shorter; groups never straddle rows).
 * scale = max|w| / 127 and q = w / scale rounded half to even, both in float32: the arithmetic of
 * llama2.c's export.py (torch.round), so that the goldens of runq.c are reproduced.
 */
import type { F32Tensor, Model, Q8Tensor, Tensor } from '../checkpoint/model.js';
import { groupsPerRow } from '../checkpoint/model.js';
import { dequantizeTensorQ4 } from './q4.js';
import { roundHalfEven } from './rounding.js';

/**
 * An fp32 matrix in Q8_0 with groups of `groupSize` per row, as export.py computes it (above); an all-zero
 * group has scale 0. `t` is not changed. Throws a RangeError for a group size that is not a positive integer.
 */
export function quantizeTensorQ8(t: F32Tensor, groupSize: number): Q8Tensor {
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new RangeError(`group size must be a positive integer, got ${groupSize}`);
  const groups = groupsPerRow({ cols: t.cols, groupSize });
  const q = new Int8Array(t.rows * t.cols);
  const scales = new Float32Array(t.rows * groups);
  for (let row = 0; row < t.rows; row++) {
    for (let g = 0; g < groups; g++) {
      const start = row * t.cols + g * groupSize;
      const end = row * t.cols + Math.min((g + 1) * groupSize, t.cols);
      let wmax = 0;
      for (let j = start; j < end; j++) wmax = Math.max(wmax, Math.abs(t.data[j]));
      const scale = Math.fround(wmax / 127);
      scales[row * groups + g] = scale;
      if (scale === 0) continue; // an all-zero group stays zero
      for (let j = start; j < end; j++) q[j] = roundHalfEven(Math.fround(t.data[j] / scale));
    }
  }
  return { dtype: 'q8_0', rows: t.rows, cols: t.cols, groupSize, q, scales };
}

/**
 * Back to float32: each value times its group's scale, rounded to float32 (runq.c `dequantize`).
 * Q4_0 tensors are unpacked the same way (src/quant/q4.ts).
 */
export function dequantizeTensor(t: Tensor): F32Tensor {
  if (t.dtype === 'f32') return t;
  if (t.dtype === 'q4_0') return dequantizeTensorQ4(t);
  const groups = groupsPerRow(t);
  const data = new Float32Array(t.rows * t.cols);
  for (let row = 0; row < t.rows; row++) {
    for (let j = 0; j < t.cols; j++) {
      data[row * t.cols + j] = Math.fround(t.q[row * t.cols + j] * t.scales[row * groups + Math.floor(j / t.groupSize)]);
    }
  }
  return { dtype: 'f32', rows: t.rows, cols: t.cols, data };
}

/** Applies `convert` to every weight matrix (embedding, layers, classifier); norms are kept as they are. */
export function mapMatrices(model: Model, convert: (t: Tensor) => Tensor): Model {
  const tokenEmbedding = convert(model.tokenEmbedding);
  return {
    ...model,
    tokenEmbedding,
    classifier: model.sharedClassifier ? tokenEmbedding : convert(model.classifier),
    layers: model.layers.map((layer) => ({
      ...layer,
      wq: convert(layer.wq),
      wk: convert(layer.wk),
      wv: convert(layer.wv),
      wo: convert(layer.wo),
      w1: convert(layer.w1),
      w2: convert(layer.w2),
      w3: convert(layer.w3),
    })),
  };
}

/** The model with every weight matrix in Q8_0 (matrices already in Q8_0 with another group size are requantized from their dequantized values). */
export function quantizeModelQ8(model: Model, groupSize: number): Model {
  return mapMatrices(model, (t) => {
    if (t.dtype === 'q8_0' && t.groupSize === groupSize) return t;
    return quantizeTensorQ8(dequantizeTensor(t), groupSize);
  });
}

/** Every weight matrix in fp32, dequantized as runq.c does; fp32 matrices and the norms are shared, not copied. */
export function dequantizeModel(model: Model): Model {
  return mapMatrices(model, dequantizeTensor);
}
