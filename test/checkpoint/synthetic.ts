/**
 * Models made up for the checkpoint tests: small random fp32 models, a simple Q8_0 quantizer, and
 * comparisons. (Not a spec file: mocha only loads *.spec.js.)
 */
import { expect } from 'chai';
import type { Config, F32Tensor, LayerWeights, Model, Q8Tensor, Tensor } from '../../src/checkpoint/model.js';
import { LAYER_MATRICES, groupsPerRow } from '../../src/checkpoint/model.js';
import { matrixShape } from '../../src/checkpoint/layout.js';

/** Deterministic numbers in [-1, 1) (xorshift32). */
export function randomValues(count: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

function f32(rows: number, cols: number, seed: number): F32Tensor {
  return { dtype: 'f32', rows, cols, data: randomValues(rows * cols, seed) };
}

/** A random fp32 model (format 'v1'), with a separate classifier unless `shared`. */
export function syntheticModel(config: Config, shared = true): Model {
  let seed = 1;
  const tokenEmbedding = f32(config.vocabSize, config.dim, seed++);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    const layer = { rmsAtt: randomValues(config.dim, seed++), rmsFfn: randomValues(config.dim, seed++) } as LayerWeights;
    for (const m of LAYER_MATRICES) layer[m] = f32(...matrixShape(config, m), seed++);
    layers.push(layer);
  }
  return {
    config,
    format: 'v1',
    tokenEmbedding,
    layers,
    rmsFinal: randomValues(config.dim, seed++),
    classifier: shared ? tokenEmbedding : f32(config.vocabSize, config.dim, seed),
    sharedClassifier: shared,
  };
}

/** Q8_0 per row: groups of `groupSize` (the last one of a row may be shorter), scale = max|w| / 127. */
export function quantizeQ8(t: Tensor, groupSize: number): Q8Tensor {
  if (t.dtype !== 'f32') throw new Error('quantizeQ8: already quantized');
  const perRow = groupsPerRow({ cols: t.cols, groupSize });
  const q = new Int8Array(t.rows * t.cols);
  const scales = new Float32Array(t.rows * perRow);
  for (let r = 0; r < t.rows; r++) {
    for (let g = 0; g < perRow; g++) {
      const start = r * t.cols + g * groupSize;
      const end = r * t.cols + Math.min((g + 1) * groupSize, t.cols);
      let max = 0;
      for (let i = start; i < end; i++) max = Math.max(max, Math.abs(t.data[i]));
      const scale = Math.fround(max / 127);
      scales[r * perRow + g] = scale;
      for (let i = start; i < end; i++) q[i] = scale === 0 ? 0 : Math.round(t.data[i] / scale);
    }
  }
  return { dtype: 'q8_0', rows: t.rows, cols: t.cols, groupSize, q, scales };
}

/** The model with every matrix (embedding and classifier included) quantized to Q8_0. */
export function quantizeModel(model: Model, groupSize: number): Model {
  const tokenEmbedding = quantizeQ8(model.tokenEmbedding, groupSize);
  const layers = model.layers.map((layer) => {
    const out = { ...layer };
    for (const m of LAYER_MATRICES) out[m] = quantizeQ8(layer[m], groupSize);
    return out;
  });
  const classifier = model.sharedClassifier ? tokenEmbedding : quantizeQ8(model.classifier, groupSize);
  const { freqCis: _unused, ...rest } = model;
  return { ...rest, format: 'v2', tokenEmbedding, layers, classifier };
}

/** The model with a separate classifier (the embedding, slightly changed). */
export function withSeparateClassifier(model: Model): Model {
  const e = model.tokenEmbedding;
  if (e.dtype !== 'f32') throw new Error('withSeparateClassifier: fp32 models only');
  const data = Float32Array.from(e.data, (v, i) => v + (i % 7) * 0.001);
  return { ...model, classifier: { dtype: 'f32', rows: e.rows, cols: e.cols, data }, sharedClassifier: false };
}

function expectTensorsEqual(actual: Tensor, expected: Tensor, what: string): void {
  expect(actual.dtype, what).to.equal(expected.dtype);
  expect([actual.rows, actual.cols], what).to.deep.equal([expected.rows, expected.cols]);
  if (actual.dtype === 'f32' && expected.dtype === 'f32') {
    expect(
      Buffer.from(actual.data.buffer, actual.data.byteOffset, actual.data.byteLength).equals(
        Buffer.from(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength),
      ),
      what,
    ).to.equal(true);
  } else if (actual.dtype === 'q8_0' && expected.dtype === 'q8_0') {
    expect(actual.groupSize, what).to.equal(expected.groupSize);
    expect(Array.from(actual.q), `${what}.q`).to.deep.equal(Array.from(expected.q));
    expect(Array.from(actual.scales), `${what}.scales`).to.deep.equal(Array.from(expected.scales));
  }
}

/** Every weight equal, bit for bit (formats and RoPE tables are not compared). */
export function expectSameWeights(actual: Model, expected: Model): void {
  expect(actual.config).to.deep.equal(expected.config);
  expect(actual.sharedClassifier).to.equal(expected.sharedClassifier);
  expectTensorsEqual(actual.tokenEmbedding, expected.tokenEmbedding, 'token_embedding');
  expectTensorsEqual(actual.classifier, expected.classifier, 'wcls');
  if (actual.sharedClassifier) expect(actual.classifier).to.equal(actual.tokenEmbedding);
  expect(Array.from(actual.rmsFinal)).to.deep.equal(Array.from(expected.rmsFinal));
  expect(actual.layers.length).to.equal(expected.layers.length);
  actual.layers.forEach((layer, l) => {
    expect(Array.from(layer.rmsAtt), `layers.${l}.rms_att`).to.deep.equal(Array.from(expected.layers[l].rmsAtt));
    expect(Array.from(layer.rmsFfn), `layers.${l}.rms_ffn`).to.deep.equal(Array.from(expected.layers[l].rmsFfn));
    for (const m of LAYER_MATRICES) expectTensorsEqual(layer[m], expected.layers[l][m], `layers.${l}.${m}`);
  });
}
