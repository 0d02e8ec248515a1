/**
 * Choosing the Q8_0 group size for a model. Smaller groups follow the weights more closely (lower
 * error) but cost a scale (4 bytes) and a float multiply-add per group; 64 is llama2.c's choice.
 */
import type { Config } from '../checkpoint/model.js';

export const DEFAULT_GROUP_SIZE = 64;

/** The lengths of the rows that are quantized (the `n` of every matmul): dim and hidden_dim. */
export function rowLengths(c: Config): number[] {
  return [...new Set([c.dim, c.hiddenDim])];
}

export interface GroupSizeChoice {
  groupSize: number;
  /** True when every row length is a multiple of the group size (no short last group). */
  dividesRows: boolean;
  reason: string;
}

/**
 * The largest power of two up to 64 that divides every row length, when that is at least 32;
 * otherwise 64, with a shorter last group in the rows it does not divide (our groups never straddle
 * rows, so this stays correct, unlike llama2.c's export).
 */
export function chooseGroupSize(c: Config): GroupSizeChoice {
  const lengths = rowLengths(c);
  let dividing = DEFAULT_GROUP_SIZE;
  while (dividing > 1 && lengths.some((n) => n % dividing !== 0)) dividing /= 2;
  if (dividing >= 32) {
    return { groupSize: dividing, dividesRows: true, reason: `${dividing} divides every row length (${lengths.join(', ')})` };
  }
  const ragged = lengths.filter((n) => n % DEFAULT_GROUP_SIZE !== 0);
  return {
    groupSize: DEFAULT_GROUP_SIZE,
    dividesRows: false,
    reason:
      `the largest power of two dividing every row length (${lengths.join(', ')}) is ${dividing}, too small to be efficient; ` +
      `using ${DEFAULT_GROUP_SIZE} with a shorter last group in rows of length ${ragged.join(', ')}`,
  };
}
