/**
 * What quantization costs the model as a whole, measured by running the reference engine
 * (src/engine/transformer.ts) on the fp32 model and on each quantized one, side by side:
 *
 * - **divergence on sampled text**: sequences are sampled from the fp32 model (from BOS, at
 *   temperature 1, from the whole distribution, one seeded RNG for all sequences); every
 *   quantized model is fed the same tokens (teacher forcing) and, at every position, its
 *   next-token distribution q is compared with fp32's p: the mean KL(p ‖ q), the worst one, and
 *   how often the most likely token is the same (top-1 agreement);
 * - **perplexity** of a text (tokenized by the caller) under every model;
 * - **greedy divergence**: how many greedy (argmax) tokens each model generates before its first
 *   token that differs from fp32's.
 *
 * All models run in lockstep, one forward pass each per position, so the fp32 distributions are
 * never stored (for a 32,000-token vocabulary that would be 128 KB per position). Metrics are
 * computed in double precision from the float32 logits (src/quant/metrics.ts).
 */
import type { Model } from '../checkpoint/model.js';
import { BOS } from '../engine/generate.js';
import { Sampler } from '../engine/sampler.js';
import type { ForwardPass } from '../engine/generate.js';
import { Transformer } from '../engine/transformer.js';
import { IntTransformer } from '../engine/transformer-int.js';
import type { KvWindow } from '../engine/kv-window.js';
import { argmax } from '../kernels/sampling.js';
import { argmaxOf, klDivergence, logSoftmax } from '../quant/metrics.js';

/** A quantized model to compare with the reference, under its name (e.g. the scheme). */
export interface Candidate {
  name: string;
  model: Model;
  /** Run it with the integer kernels (Q8_0 models; what an RP2040 build computes) instead of float32. */
  integer?: boolean;
  /** Run it with a bounded KV cache (--kv-window): the same model, an approximate attention. */
  kvWindow?: KvWindow;
}

/** The engine a candidate runs on. */
function engineFor(model: Model, seqLen: number, integer = false, kvWindow?: KvWindow): ForwardPass {
  return integer ? new IntTransformer(model, seqLen, { kvWindow }) : new Transformer(model, seqLen, kvWindow);
}

export type ProgressCallback = (done: number, total: number) => void;

/** How one candidate's next-token distributions compare with the reference's over some positions. */
export interface ForcedStats {
  name: string;
  /** Positions compared (forward passes per model). */
  positions: number;
  /** Mean KL(p_reference ‖ p_candidate) in nats. */
  meanKl: number;
  /** The largest KL at one position. */
  maxKl: number;
  /** Share of positions where both models' most likely next token is the same (0..1). */
  top1Agreement: number;
  /** Mean −log p_candidate(actual next token) in nats. */
  meanNll: number;
  /** Mean KL at each position, over the sequences (index = position). */
  klByPosition: number[];
}

export interface ForcedComparison {
  /** The reference's own mean negative log-likelihood of the next tokens. */
  reference: { positions: number; meanNll: number };
  candidates: ForcedStats[];
}

/** Chooses the token after position `pos` of sequence `seq` (given the reference's logits there, which it may overwrite). */
type NextToken = (seq: number, pos: number, referenceLogits: Float32Array) => number;

/**
 * Runs the reference and every candidate over `count` sequences, sequence `s` being `lengths[s]`
 * positions long and starting with `first(s)`; `next` decides each following token. Every model
 * sees the same tokens.
 */
function runLockstep(
  reference: Model,
  candidates: readonly Candidate[],
  lengths: readonly number[],
  first: (seq: number) => number,
  next: NextToken,
  onProgress?: ProgressCallback,
): ForcedComparison {
  const longest = Math.max(1, ...lengths);
  const refT = new Transformer(reference, longest);
  const candT = candidates.map((c) => engineFor(c.model, longest, c.integer, c.kvWindow));
  const vocab = reference.config.vocabSize;
  for (const c of candidates) {
    if (c.model.config.vocabSize !== vocab)
      throw new Error(`${c.name}: vocabulary of ${c.model.config.vocabSize}, the reference has ${vocab}`);
  }
  const logP = new Float64Array(vocab);
  const logQ = new Float64Array(vocab);
  const total = lengths.reduce((a, b) => a + b, 0);
  const klSum = new Float64Array(candidates.length);
  const klMax = new Float64Array(candidates.length);
  const agree = new Float64Array(candidates.length);
  const nll = new Float64Array(candidates.length);
  const klAtPos = candidates.map(() => new Float64Array(longest));
  const seqsAtPos = new Float64Array(longest);
  let refNll = 0;
  let done = 0;
  for (let s = 0; s < lengths.length; s++) {
    let token = first(s);
    for (let pos = 0; pos < lengths[s]; pos++) {
      const refLogits = refT.forward(token, pos);
      logSoftmax(refLogits, logP);
      const refTop = argmaxOf(refLogits);
      const following = next(s, pos, refLogits);
      refNll -= logP[following];
      seqsAtPos[pos]++;
      for (let c = 0; c < candidates.length; c++) {
        const logits = candT[c].forward(token, pos);
        logSoftmax(logits, logQ);
        const kl = klDivergence(logP, logQ);
        klSum[c] += kl;
        klAtPos[c][pos] += kl;
        if (kl > klMax[c]) klMax[c] = kl;
        if (argmaxOf(logits) === refTop) agree[c]++;
        nll[c] -= logQ[following];
      }
      token = following;
      onProgress?.(++done, total);
    }
  }
  const n = Math.max(1, total);
  return {
    reference: { positions: total, meanNll: refNll / n },
    candidates: candidates.map((c, i) => ({
      name: c.name,
      positions: total,
      meanKl: klSum[i] / n,
      maxKl: klMax[i],
      top1Agreement: agree[i] / n,
      meanNll: nll[i] / n,
      klByPosition: Array.from(klAtPos[i].subarray(0, longest), (sum, pos) => (seqsAtPos[pos] > 0 ? sum / seqsAtPos[pos] : 0)),
    })),
  };
}

export interface SamplingOptions {
  /** Number of sequences. */
  sequences: number;
  /** Positions per sequence: BOS is fed at position 0, then each sampled token; at most the model's seq_len. */
  length: number;
  /** Seed of the one RNG (llama2.c's xorshift64*) shared by all sequences; positive. */
  seed: number | bigint;
  /** Sampling temperature; default 1 (the model's own distribution). */
  temperature?: number;
  onProgress?: ProgressCallback;
}

export interface SampledComparison extends ForcedComparison {
  /** The sampled sequences: BOS, then `length` tokens (the last one is sampled but not fed). */
  sequences: number[][];
}

/**
 * Samples `sequences` sequences from `reference` and compares every candidate with it on them,
 * position by position (see the file comment). Sampling continues past a sampled BOS (the model
 * starts a new story, as in its training data), so every sequence has `length` positions.
 */
export function compareOnSampledText(reference: Model, candidates: readonly Candidate[], options: SamplingOptions): SampledComparison {
  const { sequences: count, length } = options;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`sequences must be a positive integer, got ${count}`);
  if (!Number.isInteger(length) || length < 1 || length > reference.config.seqLen) {
    throw new RangeError(`length must be an integer from 1 to the model's seq_len ${reference.config.seqLen}, got ${length}`);
  }
  const sampler = new Sampler(reference.config.vocabSize, { temperature: options.temperature ?? 1, topp: 1, seed: options.seed });
  const sequences: number[][] = Array.from({ length: count }, () => [BOS]);
  const result = runLockstep(
    reference,
    candidates,
    new Array<number>(count).fill(length),
    () => BOS,
    (s, _pos, logits) => {
      const token = sampler.sample(logits);
      sequences[s].push(token);
      return token;
    },
    options.onProgress,
  );
  return { ...result, sequences };
}

/**
 * Feeds every model the given sequences (each starts with the token fed at position 0, usually
 * BOS, and is at most seq_len + 1 tokens long) and compares the candidates with the reference;
 * each model's `meanNll` is its mean −log p of every token after the first.
 */
export function compareOnSequences(
  reference: Model,
  candidates: readonly Candidate[],
  sequences: readonly (readonly number[])[],
  onProgress?: ProgressCallback,
): ForcedComparison {
  const limit = reference.config.seqLen;
  for (const seq of sequences) {
    if (seq.length < 2) throw new RangeError('compareOnSequences: every sequence needs at least two tokens');
    if (seq.length - 1 > limit)
      throw new RangeError(`compareOnSequences: a sequence of ${seq.length} tokens is longer than seq_len ${limit} + 1`);
  }
  return runLockstep(
    reference,
    candidates,
    sequences.map((s) => s.length - 1),
    (s) => sequences[s][0],
    (s, pos) => sequences[s][pos + 1],
    onProgress,
  );
}

/**
 * Text tokens (without BOS) cut into sequences for `compareOnSequences`: each is BOS followed by at
 * most `seqLen` tokens of the text, so that every token of the text is predicted exactly once, from
 * at most seq_len positions of context (BOS included).
 */
export function chunksForPerplexity(textTokens: readonly number[], seqLen: number): number[][] {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`seqLen must be a positive integer, got ${seqLen}`);
  const chunks: number[][] = [];
  for (let i = 0; i < textTokens.length; i += seqLen) chunks.push([BOS, ...textTokens.slice(i, i + seqLen)]);
  return chunks;
}

/**
 * The `count` tokens `model` generates greedily (argmax, as `generate -t 0`) after `prompt` (which
 * starts with BOS), fewer only when the context ends. Unlike run.c, generation goes on past a
 * generated BOS, so that every prompt is compared over the same number of tokens.
 */
export function greedyContinuation(
  model: Model,
  prompt: readonly number[],
  count: number,
  onStep?: () => void,
  integer = false,
  kvWindow?: KvWindow,
): number[] {
  if (prompt.length < 1) throw new RangeError('greedyContinuation: the prompt needs at least one token (BOS)');
  const steps = greedySteps(model, prompt, count);
  const transformer = engineFor(model, steps, integer, kvWindow);
  const out: number[] = [];
  let token = prompt[0];
  for (let pos = 0; pos < steps; pos++) {
    const logits = transformer.forward(token, pos);
    const next = pos < prompt.length - 1 ? prompt[pos + 1] : argmax(logits, logits.length);
    if (pos >= prompt.length - 1) out.push(next);
    token = next;
    onStep?.();
  }
  return out;
}

/** Forward passes `greedyContinuation` makes: the prompt's (but its last token's), then one per token, within the context. */
function greedySteps(model: Model, prompt: readonly number[], count: number): number {
  return Math.min(model.config.seqLen, prompt.length - 1 + count);
}

/** Number of leading elements `a` and `b` have in common. */
export function identicalPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

export interface GreedyPrompt {
  /** The prompt as text (for display); "" for BOS alone. */
  text: string;
  /** Its tokens, BOS first. */
  tokens: number[];
}

export interface GreedyComparison {
  prompt: GreedyPrompt;
  /** The reference's greedy tokens after the prompt. */
  reference: number[];
  candidates: {
    name: string;
    tokens: number[];
    /** Tokens identical to the reference's before the first difference. */
    identical: number;
    /** Tokens compared: the reference's count. */
    total: number;
  }[];
}

/** Greedy continuations of every prompt by the reference and each candidate, and where they part. */
export function compareGreedy(
  reference: Model,
  candidates: readonly Candidate[],
  prompts: readonly GreedyPrompt[],
  count: number,
  onProgress?: ProgressCallback,
): GreedyComparison[] {
  const total = prompts.reduce((sum, p) => sum + greedySteps(reference, p.tokens, count), 0) * (1 + candidates.length);
  let done = 0;
  const step = () => onProgress?.(++done, total);
  return prompts.map((prompt) => {
    const ref = greedyContinuation(reference, prompt.tokens, count, step);
    return {
      prompt,
      reference: ref,
      candidates: candidates.map((c) => {
        const tokens = greedyContinuation(c.model, prompt.tokens, count, step, c.integer, c.kvWindow);
        return { name: c.name, tokens, identical: identicalPrefix(ref, tokens), total: ref.length };
      }),
    };
  });
}
