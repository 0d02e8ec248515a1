/** Chooses the next token from the logits as llama2.c run.c's `Sampler` does. */
import { fround } from '../kernels/builtins.js';
import { randomF32 } from '../kernels/rng.js';
import { argmax, sampleMult, sampleTopp } from '../kernels/sampling.js';
import { softmax } from '../kernels/softmax.js';

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
    const n = this.vocabSize;
    if (this.temperature === 0) return argmax(logits, n);
    for (let i = 0; i < n; i++) logits[i] = fround(logits[i] / this.temperature);
    softmax(logits, n);
    const coin = randomF32(this.rngState);
    if (this.topp <= 0 || this.topp >= 1) return sampleMult(logits, n, coin);
    return sampleTopp(logits, n, this.topp, this.order, coin);
  }
}
