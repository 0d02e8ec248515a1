/**
 * The rounding of weight quantization, shared by Q8_0 (q8.ts) and Q4_0 (q4.ts): half to even, as
 * llama2.c's export.py rounds (torch.round).
 */

/** Rounds to the nearest integer, ties to even (torch.round, numpy.round, IEEE roundTiesToEven). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties toward +∞
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
