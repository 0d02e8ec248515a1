/**
 * The RoPE tables a legacy v0 file carries after rms_final (run.c skips them; they are kept only so
 * that v0 files stay readable by older programs). Computed as llama2.c's model.py
 * `precompute_freqs_cis` does, in float32:
 *   freqs = 1 / 10000^(arange(0, head_size, 2) / head_size),  t = 0 .. seq_len-1,
 *   real = cos(outer(t, freqs)),  imag = sin(outer(t, freqs)).
 * Each step is rounded to float32 and cos/sin are rounded once from double precision. PyTorch's
 * float32 cos/sin are not always correctly rounded, so a few values of an exported file differ by
 * one unit in the last place (113 of 2,048 cosines in stories260K.bin); a model read from a v0 file
 * keeps the file's own tables, so it is written back byte for byte.
 */
import type { Config } from './model.js';
import { headSize } from './model.js';

/** The v0 RoPE tables for `config`, as above: `real` and `imag`, each [seq_len, head_size / 2] row-major. */
export function precomputeFreqCis(config: Config): { real: Float32Array; imag: Float32Array } {
  const size = headSize(config);
  const half = size / 2;
  const freqs = new Float32Array(half);
  for (let j = 0; j < half; j++) {
    const exponent = Math.fround((2 * j) / size);
    freqs[j] = Math.fround(1 / Math.fround(Math.pow(10000, exponent)));
  }
  const real = new Float32Array(config.seqLen * half);
  const imag = new Float32Array(config.seqLen * half);
  for (let t = 0; t < config.seqLen; t++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(t * freqs[j]);
      real[t * half + j] = Math.cos(angle);
      imag[t * half + j] = Math.sin(angle);
    }
  }
  return { real, imag };
}
