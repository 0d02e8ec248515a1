/**
 * The RoPE tables: cos and sin of pos · freq_j for every position and every pair j of a head,
 * with freq_j = 1 / 10000^(2j / headSize), computed in float32 steps as llama2.c run.c does
 * (`1.0f / powf(10000.0f, head_dim / (float)head_size)`, `pos * freq`), and the cosine and sine
 * rounded once from double precision. They are built once on the host: the engine uses them, and the
 * code generator writes the same numbers into the C program, so no target calls its own libm.
 */
import type { Config } from './model.js';
import { headSize } from './model.js';

export interface RopeTables {
  cos: Float32Array; // [seqLen, headSize / 2]
  sin: Float32Array; // [seqLen, headSize / 2]
}

/** The tables for positions 0 .. `seqLen` - 1 (default: the model's context), each [seqLen, headSize / 2] row-major. */
export function buildRopeTables(config: Config, seqLen = config.seqLen): RopeTables {
  const hs = headSize(config);
  const half = hs / 2;
  const cos = new Float32Array(seqLen * half);
  const sin = new Float32Array(seqLen * half);
  const freqs = new Float32Array(half);
  for (let j = 0; j < half; j++) {
    const exponent = Math.fround((2 * j) / hs);
    freqs[j] = Math.fround(1 / Math.fround(Math.pow(10000, exponent)));
  }
  for (let pos = 0; pos < seqLen; pos++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(pos * freqs[j]);
      cos[pos * half + j] = Math.cos(angle);
      sin[pos * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
