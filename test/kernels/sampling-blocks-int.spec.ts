/**
 * The sampler of a classifier in blocks (src/kernels/sampling-blocks-int.ts) against the plain
 * integer sampler (src/kernels/sampling-int.ts) that sees the whole logits vector: the same token
 * wherever the candidates hold every token of non-zero weight, the k largest logits (lower ids first
 * on ties) as candidates, the tally of the others close to their exact weights, and a nucleus capped
 * at the candidates where it is larger.
 */
import { expect } from 'chai';
import { fround } from '../../src/kernels/builtins.js';
import { candidatesStart, foldCandidates, sampleCandidates, TALLY_SIZE } from '../../src/kernels/sampling-blocks-int.js';
import { inverseTemperatureQ16, sampleNextFixed, softmaxWeights } from '../../src/kernels/sampling-int.js';
import { fixedTables } from '../../src/quant/fixed-point.js';

const EXP_TABLE = fixedTables({ dim: 8, hiddenDim: 8, nLayers: 1, nHeads: 1, nKvHeads: 1, vocabSize: 8, seqLen: 8 }, 8).exp;
const BLOCK = 64;
const ONE = 65536; // 1.0 in Q16.16

/** xorshift32 numbers in [0, 2^32). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

interface Pass {
  tally: Int32Array;
  topLogits: Int32Array;
  topIds: Int32Array;
}

/** One pass of foldCandidates over `logits` in blocks of BLOCK (the last one shorter). */
function fold(logits: Int32Array, k: number, temperature: number): Pass {
  const pass = { tally: new Int32Array(TALLY_SIZE), topLogits: new Int32Array(k), topIds: new Int32Array(k) };
  const invTemp = inverseTemperatureQ16(fround(temperature));
  candidatesStart(pass.tally);
  for (let first = 0; first < logits.length; first += BLOCK) {
    const count = Math.min(BLOCK, logits.length - first);
    foldCandidates(pass.tally, pass.topLogits, pass.topIds, k, logits.subarray(first), first, count, logits.length, invTemp, EXP_TABLE);
  }
  return pass;
}

/** The blocked sampler's token and the plain one's, each from its own copy of the RNG state `seed`. */
function bothTokens(logits: Int32Array, k: number, temperature: number, topp: number, seed: bigint): [number, number] {
  const n = logits.length;
  const pass = fold(logits, k, temperature);
  const invTemp = inverseTemperatureQ16(fround(temperature));
  const blocked = sampleCandidates(
    pass.tally,
    pass.topLogits,
    pass.topIds,
    n,
    invTemp,
    fround(topp),
    new Int32Array(k),
    new BigUint64Array([seed]),
    EXP_TABLE,
  );
  const floats = new Float32Array(n); // read only at temperature 0
  const plain = sampleNextFixed(
    floats,
    Int32Array.from(logits),
    n,
    fround(temperature),
    fround(topp),
    new Int32Array(n),
    new BigUint64Array([seed]),
    EXP_TABLE,
  );
  return [blocked, plain];
}

describe('sampling with the classifier in blocks (sampling-blocks-int)', () => {
  const settings = [0.5, 1, 2].flatMap((temperature) => [0, 0.5, 0.9, 0.99, 1].map((topp) => ({ temperature, topp })));

  it("draws the plain sampler's token when every token outside the k candidates has weight 0", () => {
    const next = random(11);
    let draws = 0;
    const tokens = new Set<number>();
    for (let trial = 0; trial < 40; trial++) {
      // 1000 tokens (blocks of 64, the last one of 40): up to 24 within 8.0 of the top, scattered
      // over the vocabulary, the rest 40.0 to 100.0 below it (weight 0 even at temperature 2)
      const n = 1000;
      const logits = Int32Array.from({ length: n }, () => -(40 * ONE + (next() % (60 * ONE))));
      const near = 1 + (next() % 24);
      for (let i = 0; i < near; i++) logits[next() % n] = (next() % (8 * ONE)) - 4 * ONE;
      if (trial % 4 === 0) logits[next() % n] = logits[next() % n]; // an exact tie now and then
      for (const { temperature, topp } of settings) {
        const [blocked, plain] = bothTokens(logits, 32, temperature, topp, BigInt(trial * 977 + 1));
        expect(blocked, `trial ${trial}, temperature ${temperature}, top-p ${topp}`).to.equal(plain);
        tokens.add(plain);
        draws++;
      }
    }
    expect(draws).to.equal(40 * settings.length);
    expect(tokens.size, 'draws spread over the near tokens').to.be.above(100);
  });

  it("draws the plain sampler's token whatever the logits when there are no more tokens than candidates", () => {
    const next = random(5);
    for (let trial = 0; trial < 30; trial++) {
      const n = 100 + (next() % 156); // up to k = 256
      const logits = Int32Array.from({ length: n }, () => (next() % (24 * ONE)) - 12 * ONE);
      for (let i = 0; i < 5; i++) logits[next() % n] = logits[next() % n];
      for (const { temperature, topp } of settings) {
        const [blocked, plain] = bothTokens(logits, 256, temperature, topp, BigInt(trial + 1));
        expect(blocked, `trial ${trial}, temperature ${temperature}, top-p ${topp}`).to.equal(plain);
      }
    }
  });

  it('keeps the k largest logits as candidates, the lower ids among equal ones, whatever the blocks they come in', () => {
    const next = random(3);
    const n = 700;
    const logits = Int32Array.from({ length: n }, () => (next() % 64) * 4096); // many ties: 64 distinct values
    const k = 50;
    const pass = fold(logits, k, 1);
    const expected = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b).slice(0, k);
    expect([...pass.topIds].sort((a, b) => a - b)).to.deep.equal(expected.sort((a, b) => a - b));
    for (let i = 0; i < k; i++) expect(pass.topLogits[i]).to.equal(logits[pass.topIds[i]]);
    expect(pass.tally[0], 'the maximum').to.equal(Math.max(...logits));
  });

  it('tallies the weights of the tokens outside the candidates within 0.1 % of their exact sum, however often the maximum rises', () => {
    const next = random(9);
    for (const rising of [true, false]) {
      const n = 5000;
      // rising: the logits climb through the vocabulary, so the maximum rises in every block
      const logits = Int32Array.from({ length: n }, (_, i) => (rising ? i * 200 : 0) + (next() % (6 * ONE)));
      const k = 64;
      const pass = fold(logits, k, 1);
      const weights = Int32Array.from(logits);
      softmaxWeights(weights, n, inverseTemperatureQ16(1), EXP_TABLE);
      const candidates = new Set(pass.topIds);
      let exact = 0;
      for (let i = 0; i < n; i++) if (!candidates.has(i)) exact += weights[i];
      expect(exact).to.be.above(10_000);
      expect(Math.abs(pass.tally[1] - exact) / exact, `rising ${rising}: tally ${pass.tally[1]}, exact ${exact}`).to.be.below(0.001);
    }
  });

  it('caps the nucleus at the candidates when it is larger: the token is one of the k largest', () => {
    const next = random(21);
    const n = 2000;
    const k = 16;
    for (let trial = 0; trial < 50; trial++) {
      // nearly flat: the plain nucleus at top-p 0.9 holds most of the 2000 tokens
      const logits = Int32Array.from({ length: n }, () => next() % (ONE / 4));
      const top = new Set([...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b).slice(0, k));
      for (const topp of [0.9, 1]) {
        const [blocked] = bothTokens(logits, k, 1, topp, BigInt(trial + 1));
        expect(top.has(blocked), `trial ${trial}, top-p ${topp}: token ${blocked}`).to.equal(true);
      }
    }
  });
});
