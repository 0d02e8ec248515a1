/** llama2.c's random number generator: xorshift64* (run.c `random_u32`, `random_f32`). */
import { fround } from './builtins.js';
import type { f32, u32, u64 } from './types.js';

/** Advances the 64-bit state in `state[0]` and returns 32 random bits. */
export function randomU32(state: BigUint64Array): u32 {
  let s: u64 = state[0];
  s ^= s >> 12n;
  s ^= BigInt.asUintN(64, s << 25n);
  s ^= s >> 27n;
  state[0] = s;
  return Number(BigInt.asUintN(64, s * 0x2545f4914f6cdd1dn) >> 32n);
}

/** A float32 in [0, 1): the top 24 of 32 random bits, divided by 2^24. */
export function randomF32(state: BigUint64Array): f32 {
  return fround((randomU32(state) >>> 8) / 16777216);
}
