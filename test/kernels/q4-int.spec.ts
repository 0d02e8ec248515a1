/**
 * The integer kernels' Q4_0 path (src/kernels/matmul-q4-int.ts): a Q4_0 matrix must give exactly
 * what matmulQ8Int gives for the same levels stored as int8 (the sums are exact integers), and the
 * classifier's greedy fold over row blocks must pick the token llama2.c's argmax picks over the
 * whole float32 vector.
 */
import { expect } from 'chai';
import type { F32Tensor } from '../../src/checkpoint/model.js';
import { embedQ8Int, matmulQ8Int } from '../../src/kernels/matmul-int.js';
import { argmaxFixedBlock, embedQ4Int, matmulQ4Int, q4PairAt, widenQ4Activation } from '../../src/kernels/matmul-q4-int.js';
import { quantizeQ8Int } from '../../src/kernels/quantize-int.js';
import { argmax } from '../../src/kernels/sampling.js';
import { fixedToFloat } from '../../src/kernels/swiglu-int.js';
import { q4PairWords, scaleShiftFor } from '../../src/quant/fixed-point.js';
import { quantizeTensorQ4, unpackQ4 } from '../../src/quant/q4.js';

/** Deterministic values in [-1, 1). */
function values(count: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** The same levels as int8, one per byte. */
function levelsAsInt8(q: Uint8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[r * cols + j] = unpackQ4(q, r * Math.ceil(cols / 2), j);
  return out;
}

/** A Q4_0 matrix in row-pair words and its fixed-point scales (the largest magnitude sets the shift: Q4_0 scales may be negative). */
function fixedQ4(rows: number, cols: number, groupSize: number, seed: number) {
  const t: F32Tensor = { dtype: 'f32', rows, cols, data: values(rows * cols, seed) };
  const q4 = quantizeTensorQ4(t, groupSize);
  const shift = scaleShiftFor(Math.max(...Array.from(q4.scales, Math.abs)));
  const ws = Int16Array.from(q4.scales, (s) => Math.round((s / 127) * 2 ** shift));
  return { words: q4PairWords(q4), ws, shift, int8: levelsAsInt8(q4.q, rows, cols) };
}

/** xout of matmulQ4Int and of matmulQ8Int on the same levels, for the activation `xq` with group maxima `xm`. */
function bothMatmuls(w: ReturnType<typeof fixedQ4>, xq: Int8Array, xm: Int32Array, n: number, d: number, groupSize: number) {
  const xw = new Int32Array(n + Math.ceil(n / groupSize));
  widenQ4Activation(xw, xq, n, groupSize);
  const q4 = new Int32Array(d);
  const q8 = new Int32Array(d);
  matmulQ4Int(q4, xw, xm, w.words, w.ws, n, d, groupSize, w.shift);
  matmulQ8Int(q8, xq, xm, w.int8, w.ws, n, d, groupSize, w.shift);
  return { q4: Array.from(q4), q8: Array.from(q8) };
}

describe('kernels/matmul-q4-int', () => {
  it('q4PairWords: column 4k + c of row 2p at bits 4c (row 2p) and 16 + 4c (row 2p + 1) of word k of pair p, stored as v + 8', () => {
    const t: F32Tensor = { dtype: 'f32', rows: 2, cols: 16, data: Float32Array.from({ length: 32 }, (_, i) => (i % 16) - 8) };
    const q4 = quantizeTensorQ4(t, 16);
    expect(q4.scales[0]).to.equal(1); // -8 is the extreme: scale -8 / -8
    const words = q4PairWords(q4);
    expect(words.length).to.equal(4);
    // rows 0 and 1 both hold -8..7, stored 0..15
    expect(words[0] >>> 0).to.equal(0x32103210);
    expect(words[3] >>> 0).to.equal(0xfedcfedc);
    for (let row = 0; row < 2; row++) for (let j = 0; j < 16; j++) expect(q4PairAt(words, row, j, 16)).to.equal(j - 8);
  });

  for (const [n, d, groupSize] of [
    [64, 8, 32],
    [288, 6, 32], // stories15M's rows
    [768, 4, 32], // and its feed-forward down's
    [48, 2, 32], // a short last group
    [64, 2, 16],
  ]) {
    it(`matmulQ4Int equals matmulQ8Int on the same levels (${d} × ${n}, groups of ${groupSize})`, () => {
      const w = fixedQ4(d, n, groupSize, n * 31 + d);
      const x = Int32Array.from(values(n, 7 + n), (v) => Math.round(v * 3 * 65536));
      const xq = new Int8Array(n);
      const xm = new Int32Array(Math.ceil(n / groupSize));
      quantizeQ8Int(xq, xm, x, n, groupSize);
      const { q4, q8 } = bothMatmuls(w, xq, xm, n, d, groupSize);
      expect(q4).to.deep.equal(q8);
      expect(q4.some((v) => v !== 0)).to.equal(true);
    });
  }

  it('matmulQ4Int: the extreme activations and levels over 16 columns stay exact in the two 16-bit halves', () => {
    const n = 32;
    for (const xv of [127, -127]) {
      for (const level of [7, -8]) {
        // rows of one level throughout (the scale maps the extreme to -8, so the other sign's level is 8 clamped to 7)
        const t: F32Tensor = { dtype: 'f32', rows: 2, cols: n, data: new Float32Array(2 * n).fill(level === 7 ? -7 / 8 : 1) };
        t.data[0] = 1; // the group's extreme: level -8 for row 0's first value, the rest at `level`
        const q4 = quantizeTensorQ4(t, 32);
        const w = { words: q4PairWords(q4), ws: Int16Array.from(q4.scales, () => 1 << 12), shift: 40, int8: levelsAsInt8(q4.q, 2, n) };
        const { q4: a, q8: b } = bothMatmuls(w, new Int8Array(n).fill(xv), Int32Array.from([65536]), n, 2, 32);
        expect(a, `x ${xv}, level ${level}`).to.deep.equal(b);
      }
    }
  });

  it('embedQ4Int equals embedQ8Int on the same levels', () => {
    const w = fixedQ4(10, 64, 32, 5);
    for (const token of [0, 5, 9]) {
      const a = new Int32Array(64);
      const b = new Int32Array(64);
      embedQ4Int(a, w.words, w.ws, token, 64, 32, w.shift);
      embedQ8Int(b, w.int8, w.ws, token, 64, 32, w.shift);
      expect(Array.from(a)).to.deep.equal(Array.from(b));
    }
  });

  it('argmaxFixedBlock over blocks picks what argmax picks over the whole float32 vector, ties to the lowest id', () => {
    const n = 1000;
    const logits = Int32Array.from(values(n, 11), (v) => Math.round(v * 10 * 65536));
    // a tie at the top, and two values a float32 cannot tell apart (above 2^24 in Q16.16, 256.0) after it
    logits[700] = 300 * 65536;
    logits[300] = 300 * 65536;
    logits[900] = 300 * 65536 + 1;
    const floats = new Float32Array(n);
    fixedToFloat(floats, logits, n);
    for (const blockSize of [1, 7, 64, 1000]) {
      const best = Int32Array.from([-1, 0]);
      for (let first = 0; first < n; first += blockSize)
        argmaxFixedBlock(best, logits.subarray(first), first, Math.min(blockSize, n - first));
      expect(best[0], `blocks of ${blockSize}`).to.equal(argmax(floats, n));
      expect(best[0]).to.equal(300);
    }
  });
});
