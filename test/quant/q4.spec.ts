import { expect } from 'chai';
import type { F32Tensor } from '../../src/checkpoint/model.js';
import { q4RowBytes } from '../../src/checkpoint/model.js';
import { dequantizeTensorQ4, packQ4, q4GroupScale, quantizeTensorQ4, unpackQ4 } from '../../src/quant/q4.js';
import { dequantizeTensor } from '../../src/quant/q8.js';

function tensor(rows: number, cols: number, values: number[] | ((r: number, j: number) => number)): F32Tensor {
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) data[r * cols + j] = typeof values === 'function' ? values(r, j) : values[r * cols + j];
  }
  return { dtype: 'f32', rows, cols, data };
}

/** Levels of a Q4 tensor, row by row, read with the documented formula. */
function levels(q: Uint8Array, rows: number, cols: number): number[] {
  const out: number[] = [];
  const rowBytes = Math.ceil(cols / 2);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out.push(((q[r * rowBytes + (j >> 1)] >> (4 * (j & 1))) & 15) - 8);
  return out;
}

describe('quant/q4 (Q4_0 weights)', () => {
  it('packs value j and j + 1 of a row into one byte: low nibble = even index, stored as v + 8', () => {
    // scale: the largest magnitude is -8 (kept signed), so scale = -8 / -8 = 1 and the levels are the values
    const t = tensor(1, 4, [-8, 7, 0, -1]);
    const q = quantizeTensorQ4(t, 4);
    expect(Array.from(q.scales)).to.deep.equal([1]);
    // bytes: (7 + 8) << 4 | (-8 + 8) = 0xf0; (-1 + 8) << 4 | (0 + 8) = 0x78
    expect(Array.from(q.q)).to.deep.equal([0xf0, 0x78]);
  });

  it('pads an odd-length row to a whole byte (high nibble 0) and starts every row on a byte', () => {
    const t = tensor(2, 3, [1, 2, 3, -4, -5, -6]);
    const q = quantizeTensorQ4(t, 3);
    expect(q4RowBytes(3)).to.equal(2);
    expect(q.q.length).to.equal(4);
    // row 0: extreme 3 → scale 3 / -8 = -0.375; levels round(1 / -0.375) = round(-2.67) = -3, -5.33 → -5, -8
    // row 1: extreme -6 → scale 0.75; levels -5.33 → -5, -6.67 → -7, -8
    expect(Array.from(q.scales)).to.deep.equal([-0.375, 0.75]);
    expect(levels(q.q, 2, 3)).to.deep.equal([-3, -5, -8, -5, -7, -8]);
    expect(Array.from(q.q)).to.deep.equal([(3 << 4) | 5, 0, (1 << 4) | 3, 0]);
  });

  it('maps the value of largest magnitude to -8 exactly, and clamps the other side at 7', () => {
    // extreme +4 → scale -0.5: +4 → -8; -4 would be +8, out of range → 7 (the one value with error > scale / 2)
    const t = tensor(1, 4, [4, -4, -3.5, 1]);
    const q = quantizeTensorQ4(t, 4);
    expect(q.scales[0]).to.equal(-0.5);
    expect(levels(q.q, 1, 4)).to.deep.equal([-8, 7, 7, -2]);
    expect(Array.from(dequantizeTensorQ4(q).data)).to.deep.equal([4, -3.5, -3.5, 1]);
  });

  it('rounds half to even, like Q8_0', () => {
    // scale 1: 0.5 → 0, 1.5 → 2, 2.5 → 2, -2.5 → -2
    const t = tensor(1, 5, [-8, 0.5, 1.5, 2.5, -2.5]);
    expect(levels(quantizeTensorQ4(t, 5).q, 1, 5)).to.deep.equal([-8, 0, 2, 2, -2]);
  });

  it('keeps an all-zero group at scale +0 and levels 0', () => {
    const q = quantizeTensorQ4(tensor(1, 6, [0, 0, 0, 1, 2, 3]), 3);
    expect(Object.is(q.scales[0], 0)).to.equal(true);
    expect(levels(q.q, 1, 6).slice(0, 3)).to.deep.equal([0, 0, 0]);
    expect(Array.from(dequantizeTensor(q).data.subarray(0, 3))).to.deep.equal([0, 0, 0]);
  });

  it('stays within scale / 2 of every in-range value, with ragged last groups that never straddle rows', () => {
    const rows = 5;
    const cols = 43; // odd, and groups of 8 leave a last group of 3
    const groupSize = 8;
    const t = tensor(rows, cols, (r, j) => Math.fround((r + 1) * Math.sin(1.7 * j + r) * (j % 7 === 0 ? 3 : 1)));
    // the last group of row 0 tiny, the start of row 1 huge: a straddling group would crush the tail
    for (let j = 40; j < cols; j++) t.data[j] = 1e-3 * (j - 41);
    const q = quantizeTensorQ4(t, groupSize);
    const groups = Math.ceil(cols / groupSize);
    expect(q.scales.length).to.equal(rows * groups);
    const back = dequantizeTensor(q);
    let inRange = 0;
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        const start = r * cols + g * groupSize;
        const end = r * cols + Math.min((g + 1) * groupSize, cols);
        const scale = q.scales[r * groups + g];
        expect(scale).to.equal(q4GroupScale(t.data, start, end)); // only its own row's values
        for (let j = start; j < end; j++) {
          const err = Math.abs(back.data[j] - t.data[j]);
          const ratio = t.data[j] / scale;
          if (ratio <= 7.5) {
            inRange++;
            expect(err, `row ${r} col ${j - r * cols}`).to.be.at.most(Math.abs(scale) / 2 + 1e-7 * Math.abs(t.data[j]));
          } else {
            expect(err).to.be.at.most(Math.abs(scale) + 1e-7 * Math.abs(t.data[j])); // clamped to 7: off by at most one level
          }
        }
      }
    }
    expect(inRange).to.be.greaterThan(rows * cols * 0.9);
    // the tiny tail of row 0 keeps its own tiny scale, so it survives (a group shared with row 1 would have scale ≈ 0.25)
    expect(Math.abs(q.scales[groups - 1])).to.be.below(2e-4);
    expect(Math.abs(back.data[42] - t.data[42])).to.be.below(2e-4);
  });

  it('unpacks what it packs, at every index of odd and even rows', () => {
    const q = new Uint8Array(q4RowBytes(7) * 2);
    const values = [-8, -7, -1, 0, 1, 6, 7, 7, 6, 1, 0, -1, -7, -8];
    values.forEach((v, i) => packQ4(q, Math.floor(i / 7) * q4RowBytes(7), i % 7, v));
    expect(values.map((_, i) => unpackQ4(q, Math.floor(i / 7) * q4RowBytes(7), i % 7))).to.deep.equal(values);
    expect(q[3] >> 4).to.equal(0); // row 0's padding nibble
  });

  it('round-trips through dequantize and quantize unchanged (the levels are exact)', () => {
    const t = tensor(3, 20, (r, j) => Math.cos(r * 20 + j));
    const q = quantizeTensorQ4(t, 6);
    const again = quantizeTensorQ4(dequantizeTensor(q), 6);
    expect(Array.from(again.q)).to.deep.equal(Array.from(q.q));
    expect(Array.from(again.scales)).to.deep.equal(Array.from(q.scales));
  });

  it('has a lower error with the signed-max / -8 scale than with max|w| / 7', () => {
    const t = tensor(16, 64, (r, j) => Math.sin(r * 131 + j * 17.3) * Math.exp(Math.cos(j)));
    const rmse = (rule: 'signed-max/-8' | 'max-abs/7'): number => {
      const back = dequantizeTensor(quantizeTensorQ4(t, 32, rule)).data;
      let sum = 0;
      for (let i = 0; i < back.length; i++) sum += (back[i] - t.data[i]) ** 2;
      return Math.sqrt(sum / back.length);
    };
    expect(rmse('signed-max/-8')).to.be.below(rmse('max-abs/7'));
  });

  it('rejects a group size that is not a positive integer', () => {
    expect(() => quantizeTensorQ4(tensor(1, 4, [1, 2, 3, 4]), 0)).to.throw(RangeError);
    expect(() => quantizeTensorQ4(tensor(1, 4, [1, 2, 3, 4]), 2.5)).to.throw(RangeError);
  });
});
