import { expect } from 'chai';
import { argmax, sampleMult, sampleTopp } from '../../src/kernels/sampling.js';

/** llama2.c run.c's sample_topp as written: cutoff filter, a full sort (stable: ties by token id), prefix, draw. */
function referenceTopp(probs: Float32Array, topp: number, coin: number): number {
  const f = Math.fround;
  const n = probs.length;
  const cutoff = f(f(1 - topp) / (n - 1));
  const candidates = Array.from(probs.keys()).filter((i) => probs[i] >= cutoff);
  if (candidates.length === 0) return sampleMult(probs, n, coin); // llama2.c: undefined behaviour; here defined
  candidates.sort((a, b) => probs[b] - probs[a] || a - b);
  let cumulative = 0;
  let last = candidates.length - 1;
  for (let i = 0; i < candidates.length; i++) {
    cumulative = f(cumulative + probs[candidates[i]]);
    if (cumulative > topp) {
      last = i;
      break;
    }
  }
  const r = f(coin * cumulative);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf = f(cdf + probs[candidates[i]]);
    if (r < cdf) return candidates[i];
  }
  return candidates[last];
}

describe('kernels/sampling', () => {
  it('argmax takes the first of equal maxima', () => {
    expect(argmax(new Float32Array([0.1, 0.5, 0.5, 0.2]), 4)).to.equal(1);
  });

  it('sampleMult returns the first index whose CDF exceeds the coin', () => {
    const p = new Float32Array([0.25, 0.25, 0.5]);
    expect(sampleMult(p, 3, 0)).to.equal(0);
    expect(sampleMult(p, 3, 0.3)).to.equal(1);
    expect(sampleMult(p, 3, 0.99)).to.equal(2);
  });

  it("top-p by a partial heap selection picks what llama2.c's filter + stable sort + prefix picks, ties by token id", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let trial = 0; trial < 300; trial++) {
      const n = 2 + (next() % 600);
      const levels = 1 + (next() % 60); // few distinct values: many ties
      const raw = Float32Array.from({ length: n }, () => (next() % levels) + (next() % 5 === 0 ? 0 : 1));
      const sum = raw.reduce((a, b) => a + b, 0);
      const probs = raw.map((v) => Math.fround(v / sum));
      const topp = Math.fround((1 + (next() % 999)) / 1000);
      const coin = Math.fround((next() % 2 ** 24) / 2 ** 24);
      expect(sampleTopp(probs, n, topp, new Int32Array(n), coin), `trial ${trial}`).to.equal(referenceTopp(probs, topp, coin));
    }
  });

  it('top-p keeps the smallest prefix whose mass exceeds p', () => {
    const probs = new Float32Array([0.05, 0.6, 0.3, 0.05]);
    const order = new Int32Array(4);
    // nucleus for p = 0.8 is {1, 2} (0.6 + 0.3 > 0.8); coin · 0.9 below 0.6 picks 1, above picks 2
    expect(sampleTopp(probs, 4, 0.8, order, 0.1)).to.equal(1);
    expect(sampleTopp(probs, 4, 0.8, order, 0.9)).to.equal(2);
  });
});
