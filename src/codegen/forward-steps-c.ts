/**
 * What both forward.c emitters share when they walk the steps of src/engine/forward-steps.ts: the
 * C names of the run state's vectors and of the weights, the matrices' shapes, and `forward()`
 * itself (the layer loop around the steps, each step under its note as a comment).
 */
import type { Config } from '../checkpoint/model.js';
import type { CacheRow, ForwardSteps, Matrix, NormWeight, Step, Vector } from '../engine/forward-steps.js';
import type { Plan } from '../plan/plan.js';
import type { KernelSet } from './kernel-set.js';

/**
 * The KV cache's names in forward.c: `rows`, the macro of its rows per layer (and of att's per
 * head); `row`, the C expression of this position's row; `last`, of the last row attention reads.
 * The exact cache keeps run.c's SEQ_LEN and pos; a bounded one (--kv-window, src/engine/kv-window.ts)
 * has KV_ROWS rows, and forward() computes kv_row and kv_last once per position.
 */
export function cacheNames(plan: Plan): { rows: string; row: string; last: string } {
  return plan.kvWindow ? { rows: 'KV_ROWS', row: 'kv_row', last: 'kv_last' } : { rows: 'SEQ_LEN', row: 'pos', last: 'pos' };
}

/** A matrix as forward.c multiplies by it: out[rows] = W · x[cols]. */
export interface MatrixShape {
  /** The weights buffer's name in C (`forward_weights.${name}`, and `forward_weights.${name}_scales` when quantized). */
  name: string;
  rows: number;
  cols: number;
  rowsMacro: string;
  colsMacro: string;
}

/** The shape and C name of each matrix of a model with config `c`. */
export function matrixShapes(c: Config, sharedClassifier: boolean): Record<Matrix, MatrixShape> {
  const kvDim = (c.dim * c.nKvHeads) / c.nHeads;
  const shape = (name: string, rows: number, cols: number, rowsMacro: string, colsMacro: string) => ({
    name,
    rows,
    cols,
    rowsMacro,
    colsMacro,
  });
  return {
    wq: shape('wq', c.dim, c.dim, 'DIM', 'DIM'),
    wk: shape('wk', kvDim, c.dim, 'KV_DIM', 'DIM'),
    wv: shape('wv', kvDim, c.dim, 'KV_DIM', 'DIM'),
    wo: shape('wo', c.dim, c.dim, 'DIM', 'DIM'),
    w1: shape('w1', c.hiddenDim, c.dim, 'HIDDEN_DIM', 'DIM'),
    w2: shape('w2', c.dim, c.hiddenDim, 'DIM', 'HIDDEN_DIM'),
    w3: shape('w3', c.hiddenDim, c.dim, 'HIDDEN_DIM', 'DIM'),
    classifier: shape(sharedClassifier ? 'token_embedding_table' : 'wcls', c.vocabSize, c.dim, 'VOCAB_SIZE', 'DIM'),
  };
}

/**
 * A vector of the run state in forward.c: `x` (forward's alias of forward_state.x), `k` and `v` (pointers to
 * the KV cache's row, which forward sets up per layer, when the steps write the cache in place),
 * `forward_state.name` for the others.
 */
export function cVector(name: Vector | CacheRow): string {
  if (name === 'x') return 'x';
  if (name === 'keyCacheRow') return 'k';
  if (name === 'valueCacheRow') return 'v';
  return `forward_state.${name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)}`;
}

/** The RMSNorm weights of layer `l` (or the final ones) in forward.c. */
export function cNormWeight(name: NormWeight): string {
  return name === 'rmsAtt'
    ? 'forward_weights.rms_att_weight + l * DIM'
    : name === 'rmsFfn'
      ? 'forward_weights.rms_ffn_weight + l * DIM'
      : 'forward_weights.rms_final_weight';
}

/** Whether a step writes the KV cache's row in place (float arithmetic: forward then points k and v at it). */
function writesCacheRows(steps: Step[]): boolean {
  return steps.some((s) => s.op === 'matmuls' && s.products.some((p) => p.out === 'keyCacheRow' || p.out === 'valueCacheRow'));
}

/**
 * forward() in C, as run.c's: `first`'s steps, the layer loop over `layer`'s, then `last`'s, each
 * step's C (from `writeStep`, given the indent of its further lines) under its note. `xType` is
 * the activations' element type; the layer loop starts with the KV cache's offsets (`loff`, and
 * `soff` for `scaleOffsets`, the int8 cache's scale codes), with `boundedCache` (a plan with
 * --kv-window) after this position's row of the cache and the last row attention reads.
 * `prologue` (C lines) runs first.
 */
export function forwardFunction(
  steps: ForwardSteps,
  writeStep: (step: Step, indent: string) => string,
  options: { xType: string; scaleOffsets?: boolean; returns: string; boundedCache?: boolean; prologue?: string },
): string {
  const rows = options.boundedCache ? 'KV_ROWS' : 'SEQ_LEN';
  const row = options.boundedCache ? 'kv_row' : 'pos';
  const section = (list: Step[], indent: string) =>
    list.map((step) => `${indent}/* ${step.note} */\n${indent}${writeStep(step, indent)}`).join('\n\n');
  const cacheRows = writesCacheRows(steps.layer)
    ? `
        /* key and value point to the kv cache at this position */
        float* k = forward_state.key_cache + loff + ${row} * KV_DIM;
        float* v = forward_state.value_cache + loff + ${row} * KV_DIM;
`
    : '';
  const scales = options.scaleOffsets ? `\n        int soff = l * ${rows} * N_KV_HEADS; /* and of its scale codes */` : '';
  const bounded = options.boundedCache
    ? `
    /* the bounded KV cache (--kv-window KV_SINKS+KV_WINDOW): positions below KV_ROWS have their own
     * row; later ones go round a ring of KV_WINDOW rows after the KV_SINKS first, each overwriting
     * the oldest. Keys are stored after RoPE, so attention reads the rows in any order: rows 0 … kv_last. */
    int kv_row = pos < KV_ROWS ? pos : KV_SINKS + (pos - KV_SINKS) % KV_WINDOW;
    int kv_last = pos < KV_ROWS ? pos : KV_ROWS - 1;
`
    : '';
  return `float* forward(int token, int pos) {
    ${options.xType}* x = forward_state.x;
${options.prologue ?? ''}${bounded}
${section(steps.first, '    ')}

    /* forward all the layers */
    for (int l = 0; l < N_LAYERS; l++) {
        int loff = l * ${rows} * KV_DIM; /* kv cache layer offset */${scales}
${cacheRows}
${section(steps.layer, '        ')}
    }

${section(steps.last, '    ')}
    return ${options.returns};
}`;
}

/** `start * n` in C, or `start` when n is 1 (a row of one scale group). */
export function rowsFrom(n: number): string {
  return n === 1 ? 'start' : `start * ${n}`;
}

/**
 * A function of forward_parallel.c that forward() calls (a thread-pool wrapper): its signature,
 * `void name(params)`, which forward.c declares, and its C (its job struct and the `_rows`
 * functions parallel_rows calls first, all static, then the function itself).
 */
export interface ParallelFunction {
  name: string;
  signature: string;
  text: string;
}

/** A ParallelFunction: `void name(params)`, defined after `before` (its job struct, its `_rows` functions) by `comment` and `body`. */
export function parallelFunction(
  name: string,
  params: string,
  parts: { before?: string; comment: string; body: string },
): ParallelFunction {
  const signature = `void ${name}(${params})`;
  return { name, signature, text: `${parts.before ? `${parts.before}\n` : ''}${parts.comment}\n${signature} {\n${parts.body}}\n` };
}

/** The kernels each file of the forward pass calls: forward.c's (its kernels.h) and forward_parallel.c's (kernels_parallel.h). */
export interface ForwardKernels {
  forward: KernelSet;
  parallel: KernelSet;
}

/**
 * The generated C of one forward pass: forward.c and forward_parallel.c (their kernels.h and
 * kernels_parallel.h are their KernelSets'), and the names of forward_parallel.c's functions that
 * forward.c calls (external names, which an exported library prefixes).
 */
export interface ForwardSources {
  forward: string;
  parallel: string;
  functions: string[];
}

/**
 * forward.c and forward_parallel.c, each starting with its `headers`. forward.c in the order
 * run.c reads: the `types` (RunState, TransformerWeights), their `definitions`, the declarations
 * of forward_parallel.c's functions, then forward_init, forward() and sample_logits (`main`).
 * forward_parallel.c: the same types, forward.c's state and weights declared, then `parallel` in
 * order: static C (the job structs several functions take) and the functions forward() calls.
 */
export function forwardSources(
  headers: { forward: string; parallel: string },
  types: string,
  definitions: string,
  main: string,
  parallel: (string | ParallelFunction)[],
): ForwardSources {
  const functions = parallel.filter((part): part is ParallelFunction => typeof part !== 'string');
  const forward = `${includes(headers.forward, ['forward.h', 'kernels.h', 'model.h', 'parallel.h'], ['string.h'])}

${types}

${definitions}

/* forward()'s matmuls and attention, split by rows over parallel.h's threads (forward_parallel.c) */
${functions.map((f) => `${f.signature};`).join('\n')}

${main}
`;
  const wrappers = `${includes(headers.parallel, ['kernels_parallel.h', 'model.h', 'parallel.h'], [])}

/* forward.c's types (one description writes both files' copies: src/codegen/forward.ts, forwardTypes) */
${types}

/* defined in forward.c */
extern RunState forward_state;
extern const TransformerWeights forward_weights;

/*
 * The thread-pool wrappers: each runs its kernel on the calling thread when the work is too small
 * to share (parallel_worth), else hands parallel_rows a job whose *_rows function computes a range of rows.
 */

${parallel.map((part) => (typeof part === 'string' ? part : part.text).trim()).join('\n\n')}
`;
  return { forward, parallel: wrappers, functions: functions.map((f) => f.name) };
}

function includes(header: string, local: string[], system: string[]): string {
  return `${header}
${['stdint.h', ...system].map((h) => `#include <${h}>`).join('\n')}

${local.map((h) => `#include "${h}"`).join('\n')}`;
}
