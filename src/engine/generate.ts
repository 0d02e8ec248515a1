/** The generation loop of llama2.c run.c `generate`: feed the prompt, then sample until `steps` or BOS. */
import type { FixedLogits, Sampler } from './sampler.js';

/** What the generation loop needs of a model: the float engine (transformer.ts) or the integer one (transformer-int.ts). */
export interface ForwardPass {
  readonly seqLen: number;
  forward(token: number, pos: number): Float32Array;
  /** The integer engine's Q16.16 logits of the last forward pass: sampled in integer mode. */
  readonly fixedLogits?: FixedLogits;
}

export const BOS = 1;
export const EOS = 2;

export interface Step {
  /** The position the token was produced at. */
  pos: number;
  /** The token that was fed in. */
  prev: number;
  /** The token that comes next: forced from the prompt, or sampled. */
  next: number;
  /** True while `next` is forced by the prompt rather than sampled. */
  fromPrompt: boolean;
  /** The forward pass's output at this position (the transformer's buffer: read it before the next step). */
  logits: Float32Array;
}

/**
 * What to tell the user when the prompt (BOS included) does not leave room to generate: run.c
 * reads only as many prompt tokens as `steps` (or the context) allows, and generates nothing.
 * Undefined when at least one token will be generated.
 */
export function promptCutNotice(promptTokens: number, steps: number, seqLen: number): string | undefined {
  const maxSteps = steps <= 0 || steps > seqLen ? seqLen : steps;
  if (promptTokens - 1 < maxSteps) return undefined;
  const limit = maxSteps === seqLen ? `the model's context (seq_len ${seqLen})` : `--steps ${steps}`;
  const fix = maxSteps === seqLen ? 'shorten the prompt' : `raise --steps (-n) above ${promptTokens - 1}, or shorten the prompt`;
  return `the prompt is ${promptTokens - 1} tokens; ${limit} reads only the first ${maxSteps} of them and leaves no room to generate: ${fix}.`;
}

/** The first position whose logits hold a NaN or an infinity, as a warning, for callers that watch. */
export function nonFiniteLogitsNotice(step: Step): string | undefined {
  const bad = step.logits.findIndex((v) => !Number.isFinite(v));
  if (bad < 0) return undefined;
  return (
    `the logits at position ${step.pos} are not finite (token ${bad}: ${step.logits[bad]}): float32 overflowed in the ` +
    'forward pass, and what follows is not the model speaking (run.c would print the same). `llama2-embed inspect` shows the largest weight.'
  );
}

/**
 * Yields one Step per forward pass. As in run.c, `steps` counts forward passes including the
 * prompt's (0 or more than the context means the whole context), and generation stops after
 * BOS is sampled (that step is yielded, so callers can record it, but not printed by run.c).
 */
export function* generate(transformer: ForwardPass, sampler: Sampler, promptTokens: number[], steps: number): Generator<Step> {
  if (promptTokens.length < 1) throw new Error('generate: the prompt needs at least one token (BOS)');
  const maxSteps = steps <= 0 || steps > transformer.seqLen ? transformer.seqLen : steps;
  let token = promptTokens[0];
  for (let pos = 0; pos < maxSteps; pos++) {
    const logits = transformer.forward(token, pos);
    const fromPrompt = pos < promptTokens.length - 1;
    const next = fromPrompt ? promptTokens[pos + 1] : sampler.sample(logits, transformer.fixedLogits);
    yield { pos, prev: token, next, fromPrompt, logits };
    if (next === BOS) return;
    token = next;
  }
}
