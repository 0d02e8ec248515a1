import { expect } from 'chai';
import { argmax, sampleMult, sampleTopp, sortCandidates } from '../../src/kernels/sampling.js';

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

  it('sorts candidates by probability, ties by token id (glibc qsort is a stable merge sort)', () => {
    const probs = new Float32Array([0.1, 0.3, 0.1, 0.3, 0.2]);
    const order = new Int32Array([0, 1, 2, 3, 4]);
    sortCandidates(order, probs, 5);
    expect(Array.from(order)).to.deep.equal([1, 3, 4, 0, 2]);
  });

  it('sorts many random candidates like a reference sort', () => {
    const n = 1000;
    const probs = new Float32Array(n);
    let seed = 7;
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      probs[i] = Math.fround((seed % 50) / 50); // many ties
    }
    const order = Int32Array.from({ length: n }, (_, i) => i);
    sortCandidates(order, probs, n);
    const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    expect(Array.from(order)).to.deep.equal(expected);
  });

  it('top-p keeps the smallest prefix whose mass exceeds p', () => {
    const probs = new Float32Array([0.05, 0.6, 0.3, 0.05]);
    const order = new Int32Array(4);
    // nucleus for p = 0.8 is {1, 2} (0.6 + 0.3 > 0.8); coin · 0.9 below 0.6 picks 1, above picks 2
    expect(sampleTopp(probs, 4, 0.8, order, 0.1)).to.equal(1);
    expect(sampleTopp(probs, 4, 0.8, order, 0.9)).to.equal(2);
  });
});
