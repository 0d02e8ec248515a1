/** Chooses the next token from the logits as llama2.c run.c's `Sampler` does (the kernel `sampleNext`). */
import { fround } from '../kernels/builtins.js';
import { sampleNextFixed } from '../kernels/sampling-int.js';
import { sampleNext } from '../kernels/sampling.js';
import { UserError } from '../util/errors.js';

export interface SamplerSettings {
  /** 0 = greedy (argmax); otherwise logits are divided by it before the softmax. */
  temperature: number;
  /** Nucleus sampling threshold; outside (0, 1) samples from the whole distribution. */
  topp: number;
  /** RNG seed (llama2.c's xorshift64* state); must be positive. */
  seed: bigint | number;
}

/** The integer engine's logits (Q16.16) and the exponential's table, for sampling in integer mode. */
export interface FixedLogits {
  readonly values: Int32Array;
  readonly expTable: Int32Array;
  /**
   * Set when the classifier ran in blocks (forward-steps.ts, classifierArgmax): [the greedy token, its
   * logit], and no logits vector. Only greedy decoding can take it.
   */
  readonly best?: Int32Array;
}

/**
 * llama2.c's sampler for a vocabulary of `vocabSize` tokens: greedy at temperature 0, otherwise
 * softmax then multinomial or top-p, drawing from its own xorshift64* state (so the same seed
 * gives run.c's tokens). Holds a scratch order array; above temperature 0 it overwrites the logits
 * it is given.
 */
export class Sampler {
  private readonly rngState = new BigUint64Array(1);
  private readonly order: Int32Array;
  private readonly temperature: number;
  private readonly topp: number;

  constructor(
    readonly vocabSize: number,
    settings: SamplerSettings,
  ) {
    this.temperature = fround(settings.temperature);
    this.topp = fround(settings.topp);
    this.rngState[0] = BigInt(settings.seed);
    this.order = new Int32Array(vocabSize);
  }

  /**
   * Picks a token; for temperature > 0 the logits are turned into probabilities in place. With
   * `fixed` (the integer engine), sampling is integer mode's (src/kernels/sampling-int.ts) on its
   * Q16.16 logits, which it overwrites; when the classifier ran in blocks (`fixed.best`), the greedy
   * token it found (a UserError at any other temperature).
   */
  sample(logits: Float32Array, fixed?: FixedLogits): number {
    if (fixed?.best) {
      if (this.temperature !== 0)
        throw new UserError(
          `the classifier ran in blocks of rows and kept only its largest logit, so only greedy decoding (temperature 0) can follow it, not temperature ${this.temperature}.`,
        );
      return fixed.best[0];
    }
    if (fixed)
      return sampleNextFixed(logits, fixed.values, this.vocabSize, this.temperature, this.topp, this.order, this.rngState, fixed.expTable);
    return sampleNext(logits, this.vocabSize, this.temperature, this.topp, this.order, this.rngState);
  }
}
