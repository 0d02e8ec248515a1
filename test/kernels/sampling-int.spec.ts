import { expect } from 'chai';
import {
  inverseTemperatureQ16,
  sampleMultWeights,
  sampleNextFixed,
  sampleToppWeights,
  softmaxWeights,
} from '../../src/kernels/sampling-int.js';
import { expNegInt } from '../../src/kernels/exp-int.js';
import { fixedTables } from '../../src/quant/fixed-point.js';
import type { Config } from '../../src/checkpoint/model.js';

const config: Config = { dim: 64, hiddenDim: 172, nLayers: 1, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 16 };
const expTable = fixedTables(config, 16).exp;

/** llama2.c's sample_topp on integer weights, written plainly: filter, full sort, prefix, draw. */
function referenceTopp(weights: Int32Array, sum: number, toppQ30: number, coin24: number): number {
  const n = weights.length;
  const threshold = Math.floor((sum * toppQ30 + 2 ** 29) / 2 ** 30);
  const cutoff = Math.trunc(Math.floor((sum * (2 ** 30 - toppQ30) + 2 ** 29) / 2 ** 30) / (n - 1));
  const candidates = Array.from(weights.keys()).filter((i) => weights[i] >= cutoff);
  if (candidates.length === 0) return sampleMultWeights(weights, n, sum, coin24);
  candidates.sort((a, b) => weights[b] - weights[a] || a - b);
  let cumulative = 0;
  let last = candidates.length - 1;
  for (let i = 0; i < candidates.length; i++) {
    cumulative += weights[candidates[i]];
    if (cumulative > threshold) {
      last = i;
      break;
    }
  }
  const r = Math.floor((cumulative * coin24 + 2 ** 23) / 2 ** 24);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf += weights[candidates[i]];
    if (r < cdf) return candidates[i];
  }
  return candidates[last];
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s;
  };
}

describe('kernels/sampling-int (integer mode)', () => {
  it('1 / temperature in Q16.16, clamped to [2^8, 2^30]', () => {
    expect(inverseTemperatureQ16(1)).to.equal(65536);
    expect(inverseTemperatureQ16(0.5)).to.equal(131072);
    expect(inverseTemperatureQ16(Math.fround(0.8))).to.equal(81920);
    expect(inverseTemperatureQ16(1000)).to.equal(256);
    expect(inverseTemperatureQ16(1e-30)).to.equal(2 ** 30);
  });

  it('weights: e^-(max - logit)/T in Q2.30, shifted by the bits of n - 1; the largest logit weighs 2^21 of 512', () => {
    const logits = Int32Array.from([0, 65536, -65536, 65536 * 3, -(2 ** 30)]);
    const n = logits.length; // 5: n - 1 has 3 bits
    const w = Int32Array.from(logits);
    const sum = softmaxWeights(w, n, 65536, expTable);
    expect(w[3]).to.equal(2 ** 27);
    expect(w[1]).to.equal((expNegInt(2 * 65536, expTable) + 4) >> 3);
    expect(w[4]).to.equal(0); // far below: no overflow, weight 0
    expect(sum).to.equal(w.reduce((a, b) => a + b, 0));
    const wide = new Int32Array(512).fill(7 << 16);
    expect(softmaxWeights(wide, 512, 2 ** 30, expTable)).to.equal(512 * 2 ** 21);
  });

  it('top-p with a partial heap selection equals filter + full sort + prefix, ties by token id', () => {
    const next = lcg(11);
    for (let trial = 0; trial < 300; trial++) {
      const n = 2 + (next() % 600);
      const weights = new Int32Array(n);
      const spread = 1 + (next() % 5000);
      for (let i = 0; i < n; i++) weights[i] = next() % 7 === 0 ? 0 : next() % spread; // many ties
      const sum = weights.reduce((a, b) => a + b, 0);
      const toppQ30 = trial % 10 === 0 ? next() % 2 ** 20 : next() % 2 ** 30; // some tiny: no candidate passes the cutoff
      const coin = next() % 2 ** 24;
      const order = new Int32Array(n);
      expect(sampleToppWeights(weights, n, sum, toppQ30, order, coin), `trial ${trial}`).to.equal(
        referenceTopp(weights, sum, toppQ30, coin),
      );
    }
  });

  it('multinomial: the first index whose cumulative weight exceeds coin · sum', () => {
    const w = Int32Array.from([1, 1, 2]);
    expect(sampleMultWeights(w, 3, 4, 0)).to.equal(0);
    expect(sampleMultWeights(w, 3, 4, Math.floor(0.3 * 2 ** 24))).to.equal(1);
    expect(sampleMultWeights(w, 3, 4, 2 ** 24 - 1)).to.equal(2);
  });

  it('greedy at temperature 0 is argmax of the float logits; sampling draws one RNG value per token', () => {
    const logits = Float32Array.from([-1, 2, 1]);
    const fixed = Int32Array.from(logits, (v) => v * 65536);
    const rng = new BigUint64Array([42n]);
    expect(sampleNextFixed(logits, fixed, 3, 0, 0.9, new Int32Array(3), rng, expTable)).to.equal(1);
    expect(rng[0]).to.equal(42n);
    const picks = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const f = Int32Array.from(logits, (v) => v * 65536);
      picks.add(sampleNextFixed(logits, f, 3, 1, 0.9, new Int32Array(3), rng, expTable));
    }
    expect(rng[0]).to.not.equal(42n);
    // p ≈ 0.04, 0.71, 0.26: top-p 0.9 keeps tokens 1 and 2 and never 0
    expect([...picks].sort()).to.deep.equal([1, 2]);
  });
});
