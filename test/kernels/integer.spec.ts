/**
 * The integer kernels (doc/kernels.md, "Integer mode") against the float arithmetic they stand in
 * for: each must stay within the error its fixed-point format allows, and fail loudly (in
 * TypeScript) where C would overflow.
 */
import { expect } from 'chai';
import { EXP_Q14_ZERO, attentionInt, storeKvInt } from '../../src/kernels/attention-int.js';
import { expNegInt } from '../../src/kernels/exp-int.js';
import { matmulQ8Int } from '../../src/kernels/matmul-int.js';
import { isqrtRound, rmsnormInt } from '../../src/kernels/rmsnorm-int.js';
import { quantizeKvInt, quantizeQ8Int } from '../../src/kernels/quantize-int.js';
import { fixedToFloat, swigluInt } from '../../src/kernels/swiglu-int.js';
import { fixedTables, kvScaleTable, scaleShiftFor } from '../../src/quant/fixed-point.js';

const Q16 = 65536;
const table = fixedTables({ dim: 8, hiddenDim: 8, nLayers: 1, nHeads: 1, nKvHeads: 1, vocabSize: 4, seqLen: 4 }, 4).exp;
const kvScale = kvScaleTable();

function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const toFixed = (xs: number[]) => Int32Array.from(xs, (v) => Math.round(v * Q16));

describe('integer kernels', () => {
  it('quantizeQ8Int: |q| <= 127, the group max maps to ±127, and x ≈ q · M / 127 within half a step and M / 2^15', () => {
    const next = random(3);
    for (const scale of [0.001, 1, 50, 300]) {
      const x = toFixed(Array.from({ length: 100 }, () => (next() * 2 - 1) * scale));
      const xq = new Int8Array(100);
      const xm = new Int32Array(4);
      quantizeQ8Int(xq, xm, x, 100, 32);
      for (let g = 0; g < 4; g++) {
        const group = Array.from(x.subarray(g * 32, Math.min(100, g * 32 + 32)));
        expect(xm[g]).to.equal(Math.max(...group.map(Math.abs)));
        group.forEach((v, k) => {
          const q = xq[g * 32 + k];
          expect(Math.abs(q)).to.be.at.most(127);
          // half a step, plus the bits of |x| below M's top 16 and the reciprocal's rounding (1/500 of a step)
          expect(Math.abs(v - (q * xm[g]) / 127)).to.be.at.most(xm[g] / 254 + xm[g] / 2 ** 15 + xm[g] / 127 / 500 + 1);
          if (Math.abs(v) === xm[g]) expect(Math.abs(q)).to.equal(127);
        });
      }
    }
  });

  it('quantizeQ8Int: an all-zero group gets zeros', () => {
    const xq = new Int8Array(8).fill(5);
    const xm = new Int32Array(2).fill(5);
    quantizeQ8Int(xq, xm, new Int32Array(8), 8, 4);
    expect(Array.from(xq)).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(xm)).to.deep.equal([0, 0]);
  });

  it('kvScaleTable: 0, then 2^((c-1)/8) rounded, never decreasing, up to 2^31 - 1', () => {
    const t = kvScaleTable();
    expect(t[0]).to.equal(0);
    expect(t[1]).to.equal(1);
    expect(t[9]).to.equal(2);
    expect(t[8 * 16 + 1]).to.equal(65536);
    for (let c = 1; c < 256; c++) expect(t[c], `code ${c}`).to.be.at.least(t[c - 1]);
    expect(t[249]).to.equal(2 ** 31 - 1);
    expect(t[255]).to.equal(2 ** 31 - 1);
  });

  it('quantizeKvInt: the smallest scale of the table not below each group max, the values quantized against it', () => {
    const next = random(5);
    const t = kvScaleTable();
    for (const scale of [0, 1e-4, 0.01, 1, 50, 30000]) {
      const x = toFixed(Array.from({ length: 24 }, () => (next() * 2 - 1) * scale));
      const xq = new Int8Array(24);
      const codes = new Uint8Array(3);
      const want = new Int8Array(24);
      const wantMax = new Int32Array(3);
      quantizeKvInt(xq, codes, x, 24, 8, t);
      for (let g = 0; g < 3; g++) {
        const m = Math.max(...Array.from(x.subarray(g * 8, g * 8 + 8), Math.abs));
        const c = codes[g];
        expect(t[c], `scale ${scale}, group ${g}`).to.be.at.least(m);
        if (c > 0) expect(t[c - 1]).to.be.below(m);
        // the same quantization as activations' against a max of t[c]: a group holding t[c] itself
        const group = Int32Array.from([...x.subarray(g * 8, g * 8 + 7), t[c]]);
        quantizeQ8Int(want.subarray(g * 8), wantMax.subarray(g), group, 8, 8);
      }
      for (let j = 0; j < 24; j++) if (j % 8 !== 7) expect(xq[j], `scale ${scale}, value ${j}`).to.equal(want[j]);
    }
    // the largest int32 max still has a code
    const codes = new Uint8Array(1);
    quantizeKvInt(new Int8Array(1), codes, Int32Array.of(-(2 ** 31 - 1)), 1, 1, t);
    expect(t[codes[0]]).to.equal(2 ** 31 - 1);
  });

  it('expNegInt: e^-d within 2e-5 relative (and 2^-30 absolute) from 0 to 32, zero beyond', () => {
    // the budget: d · log2 e rounded to Q16 (5e-6), linear interpolation between 2^(-i/64) (1.2e-5)
    for (let d = 0; d < 32 * Q16; d += 97) {
      const want = Math.exp(-d / Q16) * 2 ** 30;
      const got = expNegInt(d, table);
      expect(Math.abs(got - want), `d = ${d / Q16}`).to.be.at.most(want * 2e-5 + 1);
    }
    expect(expNegInt(0, table)).to.equal(2 ** 30);
    expect(expNegInt(32 * Q16, table)).to.equal(0);
    expect(expNegInt(2 ** 31 - 1, table)).to.equal(0);
  });

  it('attentionInt skips e^-d from d = 11 on: rounded to Q14 in the softmax it is 0 for every larger d', () => {
    for (let d = EXP_Q14_ZERO; d < 2097152 + 8; d++) {
      if ((expNegInt(d, table) + 32768) >> 16 !== 0) expect.fail(`e^-${d / Q16} rounds to ${(expNegInt(d, table) + 32768) >> 16} in Q14`);
    }
  });

  it('swigluInt: silu(a) · b within 1e-4 relative of the real value', () => {
    const next = random(5);
    const a = Array.from({ length: 200 }, () => (next() * 2 - 1) * 12);
    const b = Array.from({ length: 200 }, () => (next() * 2 - 1) * 4);
    const hb = toFixed(a);
    swigluInt(hb, toFixed(b), table, 200);
    a.forEach((v, i) => {
      const want = (v / (1 + Math.exp(-v))) * b[i];
      expect(Math.abs(hb[i] / Q16 - want), `silu(${v}) · ${b[i]}`).to.be.at.most(Math.abs(want) * 1e-4 + 4 / Q16);
    });
  });

  it('rmsnormInt: within 1e-4 of the float RMSNorm', () => {
    const next = random(9);
    const x = Array.from({ length: 64 }, () => (next() * 2 - 1) * 6);
    const w = Array.from({ length: 64 }, () => next() * 2);
    const out = new Int32Array(64);
    rmsnormInt(out, toFixed(x), toFixed(w), 64);
    const ss = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / 64 + 1e-5);
    x.forEach((v, j) => expect(Math.abs(out[j] / Q16 - w[j] * v * ss)).to.be.at.most(1e-3 * Math.abs(w[j] * v * ss) + 4 / Q16));
  });

  it('rmsnormInt: the factor 1/sqrt(mean + 1e-5) within 5e-5, from vectors of 1e-4 to 1e4 (and all zeros)', () => {
    const next = random(21);
    for (const size of [1, 7, 64, 288, 768, 4096]) {
      for (const scale of [0, 1e-4, 0.01, 1, 30, 1000, 1e4]) {
        if (scale * scale * size > 2 ** 23 * 0.9) continue; // the Q8 sum of squares must fit 31 bits
        const x = toFixed(Array.from({ length: size }, () => (next() * 2 - 1) * scale));
        const out = new Int32Array(size);
        // weight 1 and x[0] = 1: out[0] is the factor itself in Q16.16
        x[0] = Q16;
        rmsnormInt(out, x, new Int32Array(size).fill(Q16), size);
        let ss = 0;
        for (const v of x) ss += Math.round((v * v) / 2 ** 24);
        const want = 1 / Math.sqrt(ss / 256 / size + 1e-5);
        expect(Math.abs(out[0] / Q16 - want), `size ${size}, scale ${scale}`).to.be.at.most(want * 5e-5 + 1 / Q16);
      }
    }
  });

  it('isqrtRound: sqrt rounded to nearest, at the powers of four, around the squares and the half-way points', () => {
    const check = (v: number) => expect(isqrtRound(v), `v = ${v}`).to.equal(Math.round(Math.sqrt(v)));
    for (let v = 0; v < 5000; v++) check(v);
    for (let r = 1; r < 32768; r += 37) for (const v of [r * r - 1, r * r, r * r + r, r * r + r + 1]) if (v < 2 ** 30) check(v);
    for (let k = 0; k < 15; k++) check(4 ** k);
    check(2 ** 30 - 1);
  });

  it('matmulQ8Int: the fixed-point scaling of each group matches the float product of the same int8 values and scales', () => {
    const next = random(11);
    const n = 100;
    const d = 7; // four rows blocked, three one at a time
    const gs = 32;
    const groups = Math.ceil(n / gs);
    const wq = Int8Array.from({ length: n * d }, () => Math.round((next() * 2 - 1) * 127));
    const scales = Array.from({ length: d * groups }, () => next() * 0.02);
    const shift = scaleShiftFor(Math.max(...scales));
    const ws = Int16Array.from(scales, (s) => Math.round((s / 127) * 2 ** shift));
    const x = toFixed(Array.from({ length: n }, () => (next() * 2 - 1) * 3));
    const xq = new Int8Array(n);
    const xm = new Int32Array(groups);
    quantizeQ8Int(xq, xm, x, n, gs);
    const out = new Int32Array(d);
    matmulQ8Int(out, xq, xm, wq, ws, n, d, gs, shift);
    for (let i = 0; i < d; i++) {
      let want = 0;
      for (let g = 0; g < groups; g++) {
        let dot = 0;
        for (let j = g * gs; j < Math.min(n, g * gs + gs); j++) dot += xq[j] * wq[i * n + j];
        // the scale as the fixed point holds it (15 bits for the largest; scaleShiftFor's test bounds that rounding)
        want += (dot * (xm[g] / Q16) * ((ws[i * groups + g] * 127) / 2 ** shift)) / 127;
      }
      expect(Math.abs(out[i] / Q16 - want), `row ${i}`).to.be.at.most(Math.abs(want) * 1e-4 + 8 / Q16);
    }
  });

  it('attentionInt: close to float attention over the same keys and values', () => {
    const next = random(13);
    const nHeads = 4;
    const nKvHeads = 2;
    const hs = 8;
    const kvDim = nKvHeads * hs;
    const positions = 20;
    const keyCache = new Int8Array(positions * kvDim);
    const valueCache = new Int8Array(positions * kvDim);
    const keyScale = new Uint8Array(positions * nKvHeads);
    const valueScale = new Uint8Array(positions * nKvHeads);
    const keys: number[][] = [];
    const values: number[][] = [];
    for (let t = 0; t < positions; t++) {
      keys.push(Array.from({ length: kvDim }, () => (next() * 2 - 1) * 2));
      values.push(Array.from({ length: kvDim }, () => (next() * 2 - 1) * 2));
      storeKvInt(
        keyCache,
        keyScale,
        valueCache,
        valueScale,
        toFixed(keys[t]),
        toFixed(values[t]),
        kvScale,
        t * kvDim,
        t * nKvHeads,
        kvDim,
        hs,
      );
    }
    const q = Array.from({ length: nHeads * hs }, () => (next() * 2 - 1) * 2);
    const xb = new Int32Array(nHeads * hs);
    const pos = positions - 1;
    attentionInt(
      xb,
      toFixed(q),
      new Int8Array(nHeads * hs),
      new Int32Array(nHeads),
      keyCache,
      keyScale,
      valueCache,
      valueScale,
      kvScale,
      new Int32Array(positions),
      table,
      0,
      0,
      pos,
      nHeads,
      hs,
      kvDim,
      2,
    );
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / 2);
      const scores = keys.map((k) => q.slice(h * hs, h * hs + hs).reduce((s, v, i) => s + v * k[kvh * hs + i], 0) / Math.sqrt(hs));
      const max = Math.max(...scores);
      const p = scores.map((s) => Math.exp(s - max));
      const sum = p.reduce((a, b) => a + b, 0);
      for (let i = 0; i < hs; i++) {
        const want = values.reduce((s, v, t) => s + (p[t] / sum) * v[kvh * hs + i], 0);
        // int8 queries, keys and values: about 1% of the values' range
        expect(Math.abs(xb[h * hs + i] / Q16 - want), `head ${h}, ${i}`).to.be.at.most(0.05);
      }
    }
  });

  it('scaleShiftFor: the largest shift that keeps every fixed-point scale below 2^15 (16-bit operands for mulShr); too large a scale is refused', () => {
    for (const max of [1e-6, 0.003, 0.02, 1, 30]) {
      const shift = scaleShiftFor(max);
      expect(Math.round((max / 127) * 2 ** shift), `max ${max}`).to.be.below(2 ** 15);
      if (shift < 62) expect(Math.round((max / 127) * 2 ** (shift + 1)), `max ${max}`).to.be.at.least(2 ** 15);
    }
    expect(scaleShiftFor(0)).to.equal(30);
    expect(() => scaleShiftFor(40)).to.throw(/too large for the fixed-point matmul/);
  });

  it('fixedToFloat: x / 2^16, rounded once to float32', () => {
    const out = new Float32Array(3);
    fixedToFloat(out, Int32Array.from([65536, -98304, 2147483647]), 3);
    expect(Array.from(out)).to.deep.equal([1, -1.5, Math.fround(2147483647 / 65536)]);
  });
});
