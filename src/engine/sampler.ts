/** Chooses the next token from the logits as llama2.c run.c's `Sampler` does (the kernel `sampleNext`). */
import { fround } from '../kernels/builtins.js';
import { sampleNext } from '../kernels/sampling.js';

export interface SamplerSettings {
  /** 0 = greedy (argmax); otherwise logits are divided by it before the softmax. */
  temperature: number;
  /** Nucleus sampling threshold; outside (0, 1) samples from the whole distribution. */
  topp: number;
  /** RNG seed (llama2.c's xorshift64* state); must be positive. */
  seed: bigint | number;
}

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

  /** Picks a token; for temperature > 0 the logits are turned into probabilities in place. */
  sample(logits: Float32Array): number {
    return sampleNext(logits, this.vocabSize, this.temperature, this.topp, this.order, this.rngState);
  }
}
