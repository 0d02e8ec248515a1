/**
 * Random-weight models with the shapes of real ones (stories15M, stories110M), made on the fly
 * for tests and benchmarks so that nothing large is committed. Weights are uniform in
 * ±sqrt(3 / cols) (unit-variance outputs for unit-variance inputs), norms near 1, so the
 * activations stay in the range of a trained model.
 */
import type { Config, F32Tensor, LayerWeights, Model } from '../../src/checkpoint/model.js';
import { kvDim } from '../../src/checkpoint/model.js';

export const STORIES15M: Config = { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256 };
export const STORIES42M: Config = { dim: 512, hiddenDim: 1376, nLayers: 8, nHeads: 8, nKvHeads: 8, vocabSize: 32000, seqLen: 1024 };
export const STORIES110M: Config = { dim: 768, hiddenDim: 2048, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32000, seqLen: 1024 };

/** xorshift32 numbers in [-1, 1). */
class Random {
  constructor(private state: number) {
    this.state = state >>> 0 || 1;
  }
  fill(out: Float32Array, scale: number, offset = 0): Float32Array {
    let s = this.state;
    for (let i = 0; i < out.length; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = offset + scale * (s / 2 ** 31 - 1);
    }
    this.state = s;
    return out;
  }
}

function matrix(rng: Random, rows: number, cols: number): F32Tensor {
  return { dtype: 'f32', rows, cols, data: rng.fill(new Float32Array(rows * cols), Math.sqrt(3 / cols)) };
}

/**
 * A model of `config`'s shapes with seeded random weights. `options.sharedClassifier` false gives it a
 * classifier of its own (drawn after everything else), whose greedy tokens vary where a shared one's
 * mostly repeat the current token (its embedding dominates the residual stream of random layers).
 */
export function randomModel(config: Config, seed = 1, options: { sharedClassifier?: boolean } = {}): Model {
  const rng = new Random(seed);
  const kv = kvDim(config);
  const norm = () => rng.fill(new Float32Array(config.dim), 0.1, 1);
  const tokenEmbedding: F32Tensor = {
    dtype: 'f32',
    rows: config.vocabSize,
    cols: config.dim,
    data: rng.fill(new Float32Array(config.vocabSize * config.dim), 1),
  };
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    layers.push({
      rmsAtt: norm(),
      wq: matrix(rng, config.dim, config.dim),
      wk: matrix(rng, kv, config.dim),
      wv: matrix(rng, kv, config.dim),
      wo: matrix(rng, config.dim, config.dim),
      rmsFfn: norm(),
      w1: matrix(rng, config.hiddenDim, config.dim),
      w2: matrix(rng, config.dim, config.hiddenDim),
      w3: matrix(rng, config.hiddenDim, config.dim),
    });
  }
  const rmsFinal = norm();
  if (options.sharedClassifier === false) {
    const classifier = matrix(rng, config.vocabSize, config.dim);
    return { config, format: 'v1', tokenEmbedding, layers, rmsFinal, classifier, sharedClassifier: false };
  }
  return { config, format: 'v1', tokenEmbedding, layers, rmsFinal, classifier: tokenEmbedding, sharedClassifier: true };
}

/** The operands of a Q8_0 matmul (n columns, d rows, groups of gs), pseudo-random from `next`. */
export function randomQ8Matmul(n: number, d: number, gs: number, next: () => number) {
  const groups = Math.ceil(n / gs);
  return {
    xq: Int8Array.from({ length: n }, () => (next() % 255) - 127),
    xs: Float32Array.from({ length: groups }, () => (next() % 1000) / 7919),
    wq: Int8Array.from({ length: n * d }, () => (next() % 255) - 127),
    ws: Float32Array.from({ length: d * groups }, () => (next() % 1000) / 104729),
  };
}
