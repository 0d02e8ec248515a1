/**
 * Choosing the group size for a model. Smaller groups follow the weights more closely (lower
 * error) but cost a scale (4 bytes) and a float multiply-add per group. The preferred size depends on
 * the precision: 64 for Q8_0 (llama2.c's choice: int8 error is small already), 32 for Q4_0 and the
 * mixed scheme (llama.cpp's Q4_0 choice: with 16 levels per group the error grows quickly with the
 * group; on stories260K the weight RMSE at 32 is 9% below that at 64, see doc/quantization.md).
 */
import type { Config } from '../checkpoint/model.js';
import { MAX_DIMENSION } from '../checkpoint/validate.js';
import { UserError } from '../util/errors.js';

export const DEFAULT_GROUP_SIZE = 64;

/** The group size preferred for a precision scheme, before looking at the model's row lengths. */
export function preferredGroupSize(scheme: string): number {
  return scheme === 'q4_0' || scheme === 'mixed' ? 32 : DEFAULT_GROUP_SIZE;
}

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
 * The group size for quantizing `c` with `scheme` ('q8_0' by default): start from the preferred
 * size, no larger than the shortest row (a group longer than a row is just the row); take the
 * largest power of two up to it that divides every row length, when that is at least half of it;
 * otherwise keep it, with a shorter last group in the rows it does not divide (our groups never
 * straddle rows, so this stays correct, unlike llama2.c's export, and costs one extra scale per row).
 */
export function chooseGroupSize(c: Config, scheme = 'q8_0'): GroupSizeChoice {
  const lengths = rowLengths(c);
  const shortest = Math.min(...lengths);
  const preferred = preferredGroupSize(scheme);
  const weights = preferred === DEFAULT_GROUP_SIZE ? '8-bit' : '4-bit';
  let largest = preferred;
  while (largest > 1 && largest > shortest) largest /= 2;
  const start =
    largest < preferred
      ? `the preferred ${preferred} for ${weights} weights is longer than the shortest row (${shortest}), so at most ${largest}`
      : `${preferred} is the preferred group size for ${weights} weights`;
  let dividing = largest;
  while (dividing > 1 && lengths.some((n) => n % dividing !== 0)) dividing /= 2;
  if (dividing >= largest / 2) {
    const fit = dividing < largest ? `${dividing}, the largest power of two below it that divides` : 'it divides';
    return { groupSize: dividing, dividesRows: true, reason: `${start}; ${fit} every row length (${lengths.join(', ')})` };
  }
  const ragged = lengths.filter((n) => n % largest !== 0);
  return {
    groupSize: largest,
    dividesRows: false,
    reason:
      `${start}; the largest power of two dividing every row length (${lengths.join(', ')}) is ${dividing}, too small to be ` +
      `efficient; keeping ${largest}, with a shorter last group in rows of length ${ragged.join(', ')} (groups never straddle rows)`,
  };
}

/**
 * Checks a group size given on the command line (`--group-size`): a whole number from 1 to the
 * largest a checkpoint can store (the readers' limit). 4294967296 wrapped to 0 in a file that no
 * reader would then open.
 */
export function checkGroupSizeOption(groupSize: number | undefined): void {
  if (groupSize === undefined) return;
  if (!Number.isInteger(groupSize) || groupSize < 1 || groupSize > MAX_DIMENSION) {
    throw new UserError(
      `--group-size must be a whole number from 1 to ${MAX_DIMENSION.toLocaleString('en-US')}, got ${groupSize}. Leave it out to have one chosen for the model.`,
      2,
    );
  }
}
