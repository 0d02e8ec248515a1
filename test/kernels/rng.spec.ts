import { expect } from 'chai';
import { randomF32, randomU32 } from '../../src/kernels/rng.js';

// Values printed by llama2.c's random_u32/random_f32, compiled with gcc on x86-64, seed 42.
describe('kernels/rng (llama2.c xorshift64*)', () => {
  it('gives the same 32-bit values as llama2.c for seed 42', () => {
    const state = new BigUint64Array([42n]);
    expect([randomU32(state), randomU32(state), randomU32(state), randomU32(state)]).to.deep.equal([
      1456360119, 3359763283, 3393612768, 4054632243,
    ]);
  });

  it('gives the same floats as llama2.c for seed 42', () => {
    const state = new BigUint64Array([42n]);
    const got = [randomF32(state), randomF32(state), randomF32(state), randomF32(state)];
    expect(got.map((x) => x.toPrecision(9))).to.deep.equal(['0.339085221', '0.782255828', '0.790136993', '0.944042623']);
  });

  it('wraps at 64 bits as C does', () => {
    const state = new BigUint64Array([2n ** 64n - 1n]);
    expect(randomU32(state)).to.equal(4180462053);
  });
});
