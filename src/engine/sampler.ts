/** Chooses the next token from the logits as llama2.c run.c's `Sampler` does (the kernel `sampleNext`). */
import { fround } from '../kernels/builtins.js';
import { argmaxFixedBlock } from '../kernels/matmul-q4-int.js';
import { candidatesStart, foldCandidates, sampleCandidates, TALLY_SIZE } from '../kernels/sampling-blocks-int.js';
import { inverseTemperatureQ16, sampleNextFixed } from '../kernels/sampling-int.js';
import { sampleNext } from '../kernels/sampling.js';
import { SAMPLER_CANDIDATES } from './forward-steps.js';

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
   * Set when the classifier runs in blocks (forward-steps.ts; IntTransformer.classifierBlocks): no
   * logits vector, but the classifier's logits a block at a time, in token order, into `fold`.
   */
  readonly blocks?: (fold: ClassifierFold) => void;
}

/** What takes the classifier's logits a block at a time: the `count` Q16.16 logits of `block`, those of tokens first .. first + count - 1. */
export type ClassifierFold = (block: Int32Array, first: number, count: number) => void;

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
  /** With the classifier in blocks: the running argmax [token, logit], or top-p's candidates and their tally. */
  private readonly best = new Int32Array(2);
  private readonly tally = new Int32Array(TALLY_SIZE);
  private readonly topLogits: Int32Array;
  private readonly topIds: Int32Array;

  constructor(
    readonly vocabSize: number,
    settings: SamplerSettings,
  ) {
    this.temperature = fround(settings.temperature);
    this.topp = fround(settings.topp);
    this.rngState[0] = BigInt(settings.seed);
    this.order = new Int32Array(vocabSize);
    this.topLogits = new Int32Array(SAMPLER_CANDIDATES);
    this.topIds = new Int32Array(SAMPLER_CANDIDATES);
  }

  /**
   * Picks a token; for temperature > 0 the logits are turned into probabilities in place. With
   * `fixed` (the integer engine), sampling is integer mode's (src/kernels/sampling-int.ts) on its
   * Q16.16 logits, which it overwrites; when the classifier runs in blocks (`fixed.blocks`), it runs
   * it and keeps what it needs of each block (sampleFromBlocks).
   */
  sample(logits: Float32Array, fixed?: FixedLogits): number {
    if (fixed?.blocks) return this.sampleFromBlocks(fixed.blocks, fixed.expTable);
    if (fixed)
      return sampleNextFixed(logits, fixed.values, this.vocabSize, this.temperature, this.topp, this.order, this.rngState, fixed.expTable);
    return sampleNext(logits, this.vocabSize, this.temperature, this.topp, this.order, this.rngState);
  }

  /**
   * The next token from a classifier in blocks, as sample_logits does in C: greedy keeps the running
   * argmax (argmaxFixedBlock: llama2.c's argmax, as the float32 logits would give), any other
   * temperature SAMPLER_CANDIDATES candidates and the tally of the rest (src/kernels/sampling-blocks-int.ts).
   */
  private sampleFromBlocks(blocks: (fold: ClassifierFold) => void, expTable: Int32Array): number {
    if (this.temperature === 0) {
      this.best[0] = -1;
      blocks((block, first, count) => argmaxFixedBlock(this.best, block, first, count));
      return this.best[0];
    }
    const invTemp = inverseTemperatureQ16(this.temperature);
    candidatesStart(this.tally);
    blocks((block, first, count) =>
      foldCandidates(this.tally, this.topLogits, this.topIds, SAMPLER_CANDIDATES, block, first, count, this.vocabSize, invTemp, expTable),
    );
    return sampleCandidates(
      this.tally,
      this.topLogits,
      this.topIds,
      this.vocabSize,
      invTemp,
      this.topp,
      this.order,
      this.rngState,
      expTable,
    );
  }
}
