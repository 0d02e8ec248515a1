/**
 * The forward pass of a llama2.c transformer, once, as data: the steps that turn a token at a
 * position into logits (run.c's `forward`). Four walkers read this list: the reference engines
 * (./transformer.ts for float arithmetic, ./transformer-int.ts for integer) run each step with the
 * kernels of src/kernels/, and the emitters (src/codegen/forward.ts, src/codegen/forward-int.ts)
 * write each step as C. What differs between the arithmetics (where k and v go, the fixed-point
 * logits) is said here, in the list; how a step is computed (which kernel, which C) is the walker's.
 *
 * Names are the run state's (llama2.c `RunState`, camelCase here, snake_case in C) and the model's
 * (`LayerWeights`, `Model`). A step that reads a quantized matrix quantizes its input first (each
 * walker knows how: per matrix in float arithmetic, once per step in integer arithmetic).
 * doc/architecture.md, "The forward pass", says how to add a step.
 */
import type { LayerMatrixName } from '../checkpoint/model.js';

/** A vector of the run state. */
export type Vector = 'x' | 'xb' | 'xb2' | 'hb' | 'hb2' | 'q' | 'k' | 'v' | 'logits' | 'logitsFixed';

/** This layer's row of the KV cache at this position: where a float cache takes k and v directly. */
export type CacheRow = 'keyCacheRow' | 'valueCacheRow';

/** A weight matrix: one of the layer's, or the classifier (the token embedding when shared). */
export type Matrix = LayerMatrixName | 'classifier';

/** The RMSNorm weights: the layer's two, or the final one. */
export type NormWeight = 'rmsAtt' | 'rmsFfn' | 'rmsFinal';

/** out = W · input. */
export interface Product {
  out: Vector | CacheRow;
  weight: Matrix;
}

/** One step of the forward pass; `note` says what it does (the emitters write it as a C comment). */
export type Step =
  /** x ← the token's row of the embedding table */
  | { op: 'embed'; note: string }
  /** out ← RMSNorm(input) · weight */
  | { op: 'rmsnorm'; out: Vector; input: Vector; weight: NormWeight; note: string }
  /**
   * Each product's out ← W · input, all from one input (which the walkers may quantize once and
   * hand to the threads as one job); `name` names that job in C (matmul_qkv).
   */
  | { op: 'matmuls'; name?: string; input: Vector; products: Product[]; note: string }
  /** RoPE: q and k rotated in each head by the position's angles */
  | { op: 'rope'; k: 'k' | 'keyCacheRow'; note: string }
  /** k and v into the (int8) KV cache at this position, each head with its scale code */
  | { op: 'storeKv'; note: string }
  /** xb ← multihead attention of q over this layer's cache, positions 0 … pos */
  | { op: 'attention'; note: string }
  /** x ← x + input */
  | { op: 'residual'; input: Vector; note: string }
  /** gate.out ← silu(W_gate · input) * (W_up · input), up.out a scratch vector (SwiGLU's hidden layer) */
  | { op: 'gatedFfn'; input: Vector; gate: Product; up: Product; note: string }
  /** logits ← logitsFixed as float32 (for the sampler) */
  | { op: 'logitsToFloat'; note: string };

/** The steps of one forward pass: `first` once, `layer` for each layer l, then `last`. */
export interface ForwardSteps {
  first: Step[];
  layer: Step[];
  last: Step[];
}

/** The arithmetic a forward pass computes in (doc/kernels.md): float32 as llama2.c, or fixed point. */
export type ForwardArithmetic = 'float' | 'integer';

/** Rows of the classifier computed per block when it runs in blocks (and the length of the logits' block in a build). */
export const CLASSIFIER_BLOCK = 64;

/**
 * The candidates a sampler keeps when the classifier runs in blocks (src/kernels/sampling-blocks-int.ts):
 * the nucleus of top-p sampling is capped at this many tokens. 12 bytes each in the state.
 */
export const SAMPLER_CANDIDATES = 256;

/**
 * How the classifier's logits are kept (src/plan/plan.ts, Plan.classifier): a whole vector, or row
 * blocks, each folded into the sampler's running argmax or candidates as it comes.
 */
export type ClassifierLayout = 'whole' | 'blocks';

/**
 * The forward pass for `arithmetic`. Float arithmetic (run.c, runq.c) keeps a float32 KV cache, so
 * the k and v matmuls write straight into the cache's row; integer arithmetic keeps an int8 cache
 * with per-head scales, so k and v are computed in Q16.16, rotated, then stored (storeKv), and its
 * logits are Q16.16 until the last step. With `classifier` 'blocks' (integer arithmetic only: a
 * vocabulary whose logits do not fit the SRAM) the pass ends at the final RMSNorm: the sampler runs
 * the classifier a block of rows at a time (IntTransformer.classifierBlocks, sample_logits in C),
 * since only it knows what to keep of each block (the argmax, or top-p's candidates), and the
 * prompt's positions, which sample nothing, skip it.
 */
export function forwardSteps(arithmetic: ForwardArithmetic, classifier: ClassifierLayout = 'whole'): ForwardSteps {
  if (classifier === 'blocks' && arithmetic !== 'integer') throw new Error('internal: the classifier in blocks is an integer-mode layout');
  const int8Cache = arithmetic === 'integer';
  const k = int8Cache ? 'k' : 'keyCacheRow';
  const v = int8Cache ? 'v' : 'valueCacheRow';
  const layer: Step[] = [
    { op: 'rmsnorm', out: 'xb', input: 'x', weight: 'rmsAtt', note: 'attention rmsnorm' },
    {
      op: 'matmuls',
      name: 'qkv',
      input: 'xb',
      products: [
        { out: 'q', weight: 'wq' },
        { out: k, weight: 'wk' },
        { out: v, weight: 'wv' },
      ],
      note: int8Cache ? 'qkv matmuls for this position' : 'qkv matmuls for this position, k and v into the kv cache',
    },
    { op: 'rope', k, note: 'RoPE relative positional encoding: complex-valued rotate q and k in each head' },
    ...(int8Cache ? [{ op: 'storeKv', note: 'k and v into the int8 kv cache at this position' } as const] : []),
    { op: 'attention', note: 'multihead attention over the cache, into xb' },
    { op: 'matmuls', input: 'xb', products: [{ out: 'xb2', weight: 'wo' }], note: 'final matmul to get the output of the attention' },
    { op: 'residual', input: 'xb2', note: 'residual connection' },
    { op: 'rmsnorm', out: 'xb', input: 'x', weight: 'rmsFfn', note: 'ffn rmsnorm' },
    {
      op: 'gatedFfn',
      input: 'xb',
      gate: { out: 'hb', weight: 'w1' },
      up: { out: 'hb2', weight: 'w3' },
      note: 'w2(silu(w1(x)) * w3(x)): first silu(w1(x)) * w3(x)',
    },
    { op: 'matmuls', input: 'hb', products: [{ out: 'xb', weight: 'w2' }], note: 'then w2' },
    { op: 'residual', input: 'xb', note: 'residual connection' },
  ];
  const logits = int8Cache ? 'logitsFixed' : 'logits';
  const classifierSteps: Step[] =
    classifier === 'blocks'
      ? []
      : [
          { op: 'matmuls', input: 'x', products: [{ out: logits, weight: 'classifier' }], note: 'classifier into logits' },
          ...(int8Cache ? [{ op: 'logitsToFloat', note: 'the logits as float32, for the sampler' } as const] : []),
        ];
  return {
    first: [{ op: 'embed', note: 'copy the token embedding into x' }],
    layer,
    last: [{ op: 'rmsnorm', out: 'x', input: 'x', weight: 'rmsFinal', note: 'final rmsnorm' }, ...classifierSteps],
  };
}

/** An internal error for a step a walker does not implement (a new step variant not yet taught to it). */
export function unsupportedStep(walker: string, step: Step): Error {
  return new Error(`internal: ${walker} has no way to run the forward step '${step.op}' (${step.note})`);
}
