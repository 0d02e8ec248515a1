import { expect } from 'chai';
import { expF32 } from '../../src/kernels/math.js';

const bits = new Uint32Array(1);
const view = new Float32Array(bits.buffer);
function floatBits(x: number): number {
  view[0] = x;
  return bits[0];
}

/** Distance in float32 units in the last place between two positive floats. */
function ulps(a: number, b: number): number {
  return Math.abs(floatBits(a) - floatBits(b));
}

describe('kernels/math expF32', () => {
  it('is exact where e^x is known exactly', () => {
    expect(expF32(0)).to.equal(1);
    expect(expF32(-0)).to.equal(1);
  });

  it('overflows to Infinity and underflows to 0 where float32 does', () => {
    expect(Number.isFinite(expF32(88.72283172607422))).to.equal(true); // the largest float whose e^x is below FLT_MAX
    expect(expF32(88.72283935546875)).to.equal(Infinity);
    expect(expF32(88.7228546142578)).to.equal(Infinity);
    expect(expF32(-104)).to.equal(0);
    expect(expF32(-Infinity)).to.equal(0);
    expect(expF32(Infinity)).to.equal(Infinity);
  });

  it('is within one float32 ulp of e^x, and almost always the correctly rounded float', () => {
    let differ = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const x = Math.fround(-87 + (175 * i) / n); // the normal range, where attention and SiLU live
      const ours = expF32(x);
      const rounded = Math.fround(Math.exp(x));
      expect(ulps(ours, rounded), `x = ${x}`).to.be.at.most(1);
      if (ours !== rounded) differ++;
    }
    // Math.exp itself is accurate to about 1 ulp of double; a disagreement needs e^x within ~1e-7 ulp of a tie.
    expect(differ).to.be.at.most(2);
  });

  it('returns float32 values', () => {
    for (const x of [-3.3, -0.1, 0.7, 10.25]) expect(Math.fround(expF32(x))).to.equal(expF32(x));
  });
});
