/** RMSNorm (llama2.c run.c `rmsnorm`). */
import { fround, sqrtf } from './builtins.js';
import type { f32, i32 } from './types.js';

const EPSILON: f32 = fround(1e-5); // C: 1e-5f

/** o[j] = weight[j] · (ss · x[j]) with ss = 1 / sqrt(mean(x²) + 1e-5); o may be x itself. */
export function rmsnorm(o: Float32Array, x: Float32Array, weight: Float32Array, size: i32): void {
  let ss: f32 = 0;
  for (let j: i32 = 0; j < size; j++) {
    ss = fround(ss + fround(x[j] * x[j]));
  }
  ss = fround(ss / size);
  ss = fround(ss + EPSILON);
  ss = fround(1 / sqrtf(ss));
  for (let j: i32 = 0; j < size; j++) {
    o[j] = fround(weight[j] * fround(ss * x[j]));
  }
}
