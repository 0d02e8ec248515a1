/**
 * Greedy generation straight from token ids (no tokenizer needed), and how closely a quantized
 * model follows the fp32 one. (Not a spec file: mocha only loads *.spec.js.)
 */
import type { Model } from '../../src/checkpoint/model.js';
import { Transformer } from '../../src/engine/transformer.js';
import { argmax } from '../../src/kernels/sampling.js';

const BOS = 1;

/** The prompt followed by the greedily generated tokens (stopping after BOS, as run.c), `steps` forward passes. */
export function greedyIds(model: Model, prompt: number[], steps = 256): number[] {
  const transformer = new Transformer(model);
  const ids = [...prompt];
  let token = prompt[0];
  for (let pos = 0; pos < Math.min(steps, transformer.seqLen); pos++) {
    const logits = transformer.forward(token, pos);
    const next = pos < prompt.length - 1 ? prompt[pos + 1] : argmax(logits, logits.length);
    if (pos >= prompt.length - 1) ids.push(next);
    if (next === BOS) break;
    token = next;
  }
  return ids;
}

/** How many tokens `ids` generates (after a prompt of `promptLength`) before it first differs from `reference`. */
export function tokensBeforeDivergence(ids: number[], reference: number[], promptLength: number): number {
  let same = 0;
  while (same < ids.length && same < reference.length && ids[same] === reference[same]) same++;
  return same - promptLength;
}

/** Fed the reference sequence, the share of generated positions where the model's argmax is the reference's next token. */
export function top1Agreement(model: Model, reference: number[], promptLength: number): number {
  const transformer = new Transformer(model);
  let same = 0;
  let total = 0;
  // every position runs (the prompt fills the KV cache); the generated ones are counted
  for (let pos = 0; pos < reference.length - 1; pos++) {
    const logits = transformer.forward(reference[pos], pos);
    if (pos < promptLength - 1) continue;
    total++;
    if (argmax(logits, logits.length) === reference[pos + 1]) same++;
  }
  return same / total;
}
