/** Softmax in place (llama2.c run.c `softmax`). */
import { fround } from './builtins.js';
import { expF32 } from './math.js';
import type { f32, i32 } from './types.js';

/** x[0..size) ← exp(x - max) / Σ exp(x - max), summed in index order. */
export function softmax(x: Float32Array, size: i32): void {
  let maxVal: f32 = x[0];
  for (let i: i32 = 1; i < size; i++) {
    if (x[i] > maxVal) maxVal = x[i];
  }
  // the exponentials first, then their sum (in the same order): a loop of exponentials alone vectorizes
  for (let i: i32 = 0; i < size; i++) {
    x[i] = expF32(fround(x[i] - maxVal));
  }
  let sum: f32 = 0;
  for (let i: i32 = 0; i < size; i++) {
    sum = fround(sum + x[i]);
  }
  for (let i: i32 = 0; i < size; i++) {
    x[i] = fround(x[i] / sum);
  }
}
