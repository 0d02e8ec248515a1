import { expect } from 'chai';
import { attention, attentionBlocked } from '../../src/kernels/attention.js';

/** Values in [-2, 2), a different stream per seed (a small LCG: the test needs no quality). */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.fround((s / 2 ** 31) * 4 - 2);
  });
}

describe('kernels/attention', () => {
  // nHeads, headSize, nKvHeads: one query head per key/value head, and two (grouped-query)
  for (const [nHeads, headSize, nKvHeads] of [
    [4, 8, 4],
    [8, 6, 4],
  ]) {
    it(`attentionBlocked (four positions at a time) equals attention bit for bit: ${nHeads} heads of ${headSize}, ${nKvHeads} key/value heads, every position`, () => {
      const seqLen = 19;
      const nLayers = 2;
      const kvDim = nKvHeads * headSize;
      const keyCache = values(nLayers * seqLen * kvDim, 1);
      const valueCache = values(nLayers * seqLen * kvDim, 2);
      const q = values(nHeads * headSize, 3);
      const layerOffset = seqLen * kvDim; // the second layer
      for (let pos = 0; pos < seqLen; pos++) {
        const expected = { xb: new Float32Array(nHeads * headSize), att: new Float32Array(nHeads * seqLen) };
        const actual = { xb: new Float32Array(nHeads * headSize), att: new Float32Array(nHeads * seqLen) };
        attention(expected.xb, q, keyCache, valueCache, expected.att, layerOffset, pos, nHeads, headSize, kvDim, nHeads / nKvHeads, seqLen);
        attentionBlocked(
          actual.xb,
          q,
          keyCache,
          valueCache,
          actual.att,
          layerOffset,
          pos,
          nHeads,
          headSize,
          kvDim,
          nHeads / nKvHeads,
          seqLen,
        );
        expect(Array.from(actual.att), `scores at position ${pos}`).to.deep.equal(Array.from(expected.att));
        expect(Array.from(actual.xb), `output at position ${pos}`).to.deep.equal(Array.from(expected.xb));
        expect(expected.xb.some((v) => v !== 0)).to.equal(true);
      }
    });
  }
});
