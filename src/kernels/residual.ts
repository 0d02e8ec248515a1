/** The residual connection: x ← x + delta. */
import { fround } from './builtins.js';
import type { i32 } from './types.js';

/** x[i] ← x[i] + delta[i] for i < n, in float32 (llama2.c run.c's residual additions). */
export function residualAdd(x: Float32Array, delta: Float32Array, n: i32): void {
  for (let i: i32 = 0; i < n; i++) {
    x[i] = fround(x[i] + delta[i]);
  }
}
