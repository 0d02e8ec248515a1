/**
 * Q4_0 weight quantization: 4-bit integers v in [-8, 7], one fp32 scale per group of `groupSize`
 * values of a row (the last group of a row may be shorter; groups never straddle rows), two values
 * per byte (packing: `Q4Tensor` in src/checkpoint/model.ts).
 *
 * Scale convention (ggml's Q4_0): let m be the value of the group with the largest magnitude, keeping
 * its sign; scale = m / -8, so m itself becomes exactly -8 and all 16 levels are in use. Values of the
 * other sign reach at most +8 and are clamped to 7. The alternative, scale = max|w| / 7 with levels
 * -7..7, wastes one of only 16 levels: on stories260K its weight RMSE is 14-16% higher at group sizes
 * 16 to 64, and the engine follows the fp32 model for fewer tokens (doc/quantization.md).
 * The scale is negative when m is positive; value ≈ v · scale either way.
 * v = w / scale rounded half to even, in float32 like Q8_0.
 */
import type { F32Tensor, Q4Tensor } from '../checkpoint/model.js';
import { groupsPerRow, q4RowBytes } from '../checkpoint/model.js';
import { roundHalfEven } from './rounding.js';

export const Q4_MIN = -8;
export const Q4_MAX = 7;

/** Which level the extreme value of a group is mapped to (see the file comment). */
export type Q4ScaleRule = 'signed-max/-8' | 'max-abs/7';

/** The scale of one group `data[start, end)`. */
export function q4GroupScale(data: Float32Array, start: number, end: number, rule: Q4ScaleRule = 'signed-max/-8'): number {
  let extreme = 0;
  for (let j = start; j < end; j++) if (Math.abs(data[j]) > Math.abs(extreme)) extreme = data[j];
  if (extreme === 0) return 0; // an all-zero group (not -0: that would dequantize to -0)
  return rule === 'signed-max/-8' ? Math.fround(extreme / -8) : Math.fround(Math.abs(extreme) / 7);
}

/** The 4-bit level of `w` with `scale` (0 when the scale is 0: an all-zero group). */
export function q4Level(w: number, scale: number): number {
  if (scale === 0) return 0;
  return Math.min(Q4_MAX, Math.max(Q4_MIN, roundHalfEven(Math.fround(w / scale))));
}

/** Writes level v (in [-8, 7]) as value j of the row starting at byte `rowStart`. */
export function packQ4(q: Uint8Array, rowStart: number, j: number, v: number): void {
  const at = rowStart + (j >> 1);
  const nibble = (v + 8) & 15;
  q[at] = j & 1 ? (q[at] & 0x0f) | (nibble << 4) : (q[at] & 0xf0) | nibble;
}

/** Level of value j of the row starting at byte `rowStart` (the inverse of packQ4). */
export function unpackQ4(q: Uint8Array, rowStart: number, j: number): number {
  return ((q[rowStart + (j >> 1)] >> ((j & 1) << 2)) & 15) - 8;
}

/**
 * An fp32 matrix in Q4_0 with groups of `groupSize` per row and the scale `rule` (default ggml's, above);
 * `t` is not changed. Throws a RangeError for a group size that is not a positive integer.
 */
export function quantizeTensorQ4(t: F32Tensor, groupSize: number, rule: Q4ScaleRule = 'signed-max/-8'): Q4Tensor {
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new RangeError(`group size must be a positive integer, got ${groupSize}`);
  const groups = groupsPerRow({ cols: t.cols, groupSize });
  const rowBytes = q4RowBytes(t.cols);
  const q = new Uint8Array(t.rows * rowBytes);
  const scales = new Float32Array(t.rows * groups);
  for (let row = 0; row < t.rows; row++) {
    const base = row * t.cols;
    for (let g = 0; g < groups; g++) {
      const start = g * groupSize;
      const end = Math.min(start + groupSize, t.cols);
      const scale = q4GroupScale(t.data, base + start, base + end, rule);
      scales[row * groups + g] = scale;
      for (let j = start; j < end; j++) packQ4(q, row * rowBytes, j, q4Level(t.data[base + j], scale));
    }
  }
  return { dtype: 'q4_0', rows: t.rows, cols: t.cols, groupSize, q, scales };
}

/** Back to float32: each level times its group's scale, rounded to float32 (as `embedQ4`). */
export function dequantizeTensorQ4(t: Q4Tensor): F32Tensor {
  const groups = groupsPerRow(t);
  const rowBytes = q4RowBytes(t.cols);
  const data = new Float32Array(t.rows * t.cols);
  for (let row = 0; row < t.rows; row++) {
    for (let j = 0; j < t.cols; j++) {
      data[row * t.cols + j] = Math.fround(unpackQ4(t.q, row * rowBytes, j) * t.scales[row * groups + Math.floor(j / t.groupSize)]);
    }
  }
  return { dtype: 'f32', rows: t.rows, cols: t.cols, data };
}
