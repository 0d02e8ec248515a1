import { expect } from 'chai';
import { matmulF32, matmulQ8, matmulQ8Groups, matmulQ8PerRow } from '../../src/kernels/matmul.js';
import { quantizeQ8 } from '../../src/kernels/quantize.js';
import { roundHalfAway } from '../../src/kernels/builtins.js';
import { randomQ8Matmul } from '../helpers/random-model.js';

describe('kernels/matmul and activation quantization', () => {
  it('matmulF32 sums left to right in float32', () => {
    const w = new Float32Array([1e8, 1, -1e8, 0.5, 0.25, 0.125]);
    const x = new Float32Array([1, 1, 1]);
    const out = new Float32Array(2);
    matmulF32(out, x, w, 3, 2);
    // (1e8 + 1) rounds back to 1e8 in float32, so the row sums to 0, not 1
    expect(Array.from(out)).to.deep.equal([0, 0.875]);
  });

  it('rounds activations half away from zero, as C round()', () => {
    expect([2.5, -2.5, 0.5, -0.5, 1.49].map(roundHalfAway)).to.deep.equal([3, -3, 1, -1, 1]);
  });

  it('quantizes activations per row-aligned group, the last group shorter', () => {
    const x = new Float32Array([1, -2, 0.5, 127, 0, 0, 0]);
    const xq = new Int8Array(7);
    const xs = new Float32Array(3);
    quantizeQ8(xq, xs, x, 7, 3);
    expect(Array.from(xs)).to.deep.equal([Math.fround(2 / 127), 1, 0]);
    expect(Array.from(xq)).to.deep.equal([64, -127, 32, 127, 0, 0, 0]); // 63.5 rounds to 64
  });

  it('matmulQ8 with a ragged last group equals the per-group sum', () => {
    const n = 7;
    const gs = 3;
    const d = 2;
    const xq = new Int8Array([1, 2, 3, 4, 5, 6, 7]);
    const xs = new Float32Array([0.5, 0.25, 2]);
    const wq = new Int8Array([1, 1, 1, 1, 1, 1, 1, -1, 0, 1, 2, 0, 0, 3]);
    const ws = new Float32Array([1, 1, 1, 0.5, 0.5, 0.5]);
    const out = new Float32Array(d);
    matmulQ8(out, xq, xs, wq, ws, n, d, gs);
    expect(out[0]).to.equal(6 * 0.5 + 15 * 0.25 + 7 * 2);
    expect(out[1]).to.equal(2 * 0.5 * 0.5 + 8 * 0.5 * 0.25 + 21 * 0.5 * 2);
  });

  it("matmulQ8 (four rows at a time) and matmulQ8Groups (a row's group sums first) equal matmulQ8PerRow (runq.c's loop) bit for bit, ragged groups and odd rows included", () => {
    let seed = 5;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    // 2100 / 32: more groups than matmulQ8Groups takes at once (32)
    for (const [n, d, gs] of [
      [64, 64, 64],
      [172, 64, 64],
      [64, 7, 32],
      [33, 5, 8],
      [288, 13, 32],
      [2100, 3, 32],
      [768, 5, 64],
    ]) {
      const { xq, xs, wq, ws } = randomQ8Matmul(n, d, gs, next);
      const a = new Float32Array(d);
      const b = new Float32Array(d);
      matmulQ8(a, xq, xs, wq, ws, n, d, gs);
      matmulQ8PerRow(b, xq, xs, wq, ws, n, d, gs);
      const c = new Float32Array(d);
      matmulQ8Groups(c, xq, xs, wq, ws, n, d, gs);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `n ${n}, d ${d}, gs ${gs}`).to.equal(true);
      expect(Buffer.from(c.buffer).equals(Buffer.from(b.buffer)), `groups: n ${n}, d ${d}, gs ${gs}`).to.equal(true);
    }
  });
});
