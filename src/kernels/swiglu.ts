/** The feed-forward non-linearity of Llama 2 (llama2.c run.c, inside `forward`). */
import { fround } from './builtins.js';
import { expF32 } from './math.js';
import type { f32, i32 } from './types.js';

/** hb[i] ← silu(hb[i]) · hb2[i], where silu(v) = v · σ(v) = v · (1 / (1 + e^-v)). */
export function swiglu(hb: Float32Array, hb2: Float32Array, hiddenDim: i32): void {
  for (let i: i32 = 0; i < hiddenDim; i++) {
    let val: f32 = hb[i];
    val = fround(val * fround(1 / fround(1 + expF32(-val))));
    val = fround(val * hb2[i]);
    hb[i] = val;
  }
}
