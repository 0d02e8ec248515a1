import { expect } from 'chai';
import type { F32Tensor, Q4Tensor, Q8Tensor } from '../../src/checkpoint/model.js';
import {
  argmaxOf,
  errorStats,
  groupGrid,
  groupOf,
  histogram,
  indexOfMaxAbs,
  klDivergence,
  logSoftmax,
  negativeLogLikelihood,
  perplexity,
  sqnrDb,
  tensorBytes,
} from '../../src/quant/metrics.js';
import { quantizeTensorQ4 } from '../../src/quant/q4.js';
import { quantizeTensorQ8 } from '../../src/quant/q8.js';

function f32(rows: number, cols: number, values: number[]): F32Tensor {
  return { dtype: 'f32', rows, cols, data: Float32Array.from(values) };
}

describe('quant/metrics', () => {
  describe('errorStats', () => {
    it('is zero error and an infinite SQNR for an exact copy', () => {
      const s = errorStats([1, -2, 3], [1, -2, 3]);
      expect(s).to.deep.include({ count: 3, maxAbsError: 0, rmse: 0, noiseEnergy: 0, signalEnergy: 14, sqnrDb: Infinity });
    });

    it('measures the largest error, the RMSE and the SQNR of known arrays', () => {
      // signal energy 1 + 1 + 4 + 4 = 10, noise 0.1² = 0.01: 10·log10(1000) = 30 dB
      const s = errorStats([1, -1, 2, -2], [1.1, -1, 2, -2]);
      expect(s.maxAbsError).to.be.closeTo(0.1, 1e-12);
      expect(s.rmse).to.be.closeTo(Math.sqrt(0.01 / 4), 1e-12);
      expect(s.sqnrDb).to.be.closeTo(30, 1e-9);
    });

    it('counts errors of either sign', () => {
      const s = errorStats([0.5, 0.5], [0.25, 0.75]);
      expect(s.maxAbsError).to.equal(0.25);
      expect(s.rmse).to.equal(0.25);
      expect(s.sqnrDb).to.be.closeTo(10 * Math.log10(0.5 / 0.125), 1e-12);
    });

    it('refuses arrays of different lengths', () => {
      expect(() => errorStats([1, 2], [1])).to.throw(RangeError, /differ in length/);
    });
  });

  it('sqnrDb: 20 dB for a hundredth of the energy, ±Infinity at the edges', () => {
    expect(sqnrDb(100, 1)).to.be.closeTo(20, 1e-12);
    expect(sqnrDb(1, 1)).to.equal(0);
    expect(sqnrDb(0, 0)).to.equal(Infinity);
    expect(sqnrDb(5, 0)).to.equal(Infinity);
    expect(sqnrDb(0, 5)).to.equal(-Infinity);
  });

  it('tensorBytes: fp32 values; int8 values and scales; packed int4 rows (odd rows padded) and scales', () => {
    const t = f32(2, 5, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(tensorBytes(t)).to.equal(40);
    const q8: Q8Tensor = quantizeTensorQ8(t, 4); // 2 groups per row (4 + 1)
    expect(tensorBytes(q8)).to.equal(10 + 2 * 2 * 4);
    const q4: Q4Tensor = quantizeTensorQ4(t, 4); // ceil(5 / 2) = 3 bytes per row
    expect(tensorBytes(q4)).to.equal(2 * 3 + 2 * 2 * 4);
  });

  describe('distributions', () => {
    it('logSoftmax: normalized, shift-invariant, no overflow for large logits', () => {
      const lp = logSoftmax([0, 0]);
      expect(lp[0]).to.be.closeTo(-Math.LN2, 1e-15);
      const a = logSoftmax([1, 2, 3, 4]);
      const b = logSoftmax([1001, 1002, 1003, 1004]);
      expect(Array.from(a.map(Math.exp)).reduce((x, y) => x + y)).to.be.closeTo(1, 1e-15);
      a.forEach((v, i) => expect(b[i]).to.be.closeTo(v, 1e-12));
      const big = logSoftmax([1000, 0]);
      expect(big[0]).to.be.closeTo(0, 1e-15);
      expect(big[1]).to.be.closeTo(-1000, 1e-9);
    });

    it('klDivergence: 0 for equal distributions, the textbook value otherwise, and not symmetric', () => {
      const p = [Math.log(0.5), Math.log(0.5)];
      const q = [Math.log(0.9), Math.log(0.1)];
      expect(klDivergence(p, p)).to.equal(0);
      const expected = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1);
      expect(klDivergence(p, q)).to.be.closeTo(expected, 1e-15);
      const reverse = 0.9 * Math.log(0.9 / 0.5) + 0.1 * Math.log(0.1 / 0.5);
      expect(klDivergence(q, p)).to.be.closeTo(reverse, 1e-15);
      expect(klDivergence(q, p)).to.not.be.closeTo(klDivergence(p, q), 1e-3);
    });

    it('klDivergence from logits: a uniform q against a peaked p is log(n) − H(p)', () => {
      const logits = [5, 1, 0, -1];
      const lp = logSoftmax(logits);
      const entropy = -Array.from(lp).reduce((s, v) => s + Math.exp(v) * v, 0);
      expect(klDivergence(lp, logSoftmax([0, 0, 0, 0]))).to.be.closeTo(Math.log(4) - entropy, 1e-12);
    });

    it('a zero-probability token of p contributes nothing', () => {
      expect(klDivergence([0, -Infinity], [Math.log(0.5), Math.log(0.5)])).to.be.closeTo(Math.LN2, 1e-15);
    });

    it('argmaxOf takes the first of equal maxima, as the sampling kernel does', () => {
      expect(argmaxOf([1, 3, 3, 2])).to.equal(1);
      expect(argmaxOf([-5])).to.equal(0);
    });

    it('negative log-likelihood and perplexity: a uniform choice of 4 has perplexity 4', () => {
      const lp = logSoftmax([0, 0, 0, 0]);
      expect(negativeLogLikelihood(lp, 2)).to.be.closeTo(Math.log(4), 1e-15);
      expect(perplexity(3 * Math.log(4), 3)).to.be.closeTo(4, 1e-12);
      expect(() => negativeLogLikelihood(lp, 4)).to.throw(RangeError);
      expect(() => perplexity(1, 0)).to.throw(RangeError);
    });
  });

  describe('quantization grid', () => {
    const t = f32(2, 6, [0.1, -0.8, 0.3, 0.05, 0.2, -0.1, 1, 2, 3, 4, 5, 6]);

    it('Q4_0: 16 levels, scale × k, the group extreme among them exactly', () => {
      const q4 = quantizeTensorQ4(t, 4);
      const { scale, levels } = groupGrid(q4, 0, 0);
      expect(scale).to.equal(Math.fround(-0.8 / -8));
      expect(levels).to.have.length(16);
      expect(levels).to.include(Math.fround(-0.8));
      expect(levels[0]).to.equal(Math.fround(-8 * scale));
      expect(levels.every((v, i) => i === 0 || v > levels[i - 1])).to.equal(true);
      // a positive extreme gives a negative scale: the same levels, mirrored
      const second = groupGrid(q4, 1, 0);
      expect(second.scale).to.be.below(0);
      expect(second.levels).to.include(Math.fround(4));
    });

    it('Q8_0: 255 levels symmetric around 0, max|w| = 127 × scale', () => {
      const q8 = quantizeTensorQ8(t, 4);
      const { scale, levels } = groupGrid(q8, 0, 0);
      expect(levels).to.have.length(255);
      expect(levels[0]).to.equal(-levels[254]);
      expect(levels[254]).to.equal(Math.fround(127 * scale));
      expect(levels).to.include(0);
    });

    it('the last group of a row may be short; a group outside the tensor is refused', () => {
      const q4 = quantizeTensorQ4(t, 4);
      expect(groupGrid(q4, 0, 1).levels).to.have.length(16);
      expect(() => groupGrid(q4, 0, 2)).to.throw(RangeError);
      expect(() => groupGrid(q4, 2, 0)).to.throw(RangeError);
    });

    it('groupOf and indexOfMaxAbs locate a value', () => {
      expect(groupOf(0, 6, 4)).to.deep.equal({ row: 0, group: 0 });
      expect(groupOf(5, 6, 4)).to.deep.equal({ row: 0, group: 1 });
      expect(groupOf(10, 6, 4)).to.deep.equal({ row: 1, group: 1 });
      expect(indexOfMaxAbs([0.1, -0.8, 0.8, 0.3])).to.equal(1);
    });
  });

  it('histogram: equal bins, the last one closed, values outside left out', () => {
    const h = histogram([0, 0.1, 0.5, 0.99, 1, 2, -1], 2, 0, 1);
    expect(h).to.deep.equal({ lo: 0, hi: 1, counts: [2, 3] });
    const own = histogram([1, 2, 3, 4], 3);
    expect(own.lo).to.equal(1);
    expect(own.hi).to.equal(4);
    expect(own.counts.reduce((a, b) => a + b)).to.equal(4);
    expect(histogram([2, 2], 4).counts.reduce((a, b) => a + b)).to.equal(2);
    expect(() => histogram([1], 0)).to.throw(RangeError);
  });
});
