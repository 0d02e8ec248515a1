/**
 * What both forward.c emitters share when they walk the steps of src/engine/forward-steps.ts: the
 * C names of the run state's vectors and of the weights, the matrices' shapes, and `forward()`
 * itself (the layer loop around the steps, each step under its note as a comment).
 */
import type { Config } from '../checkpoint/model.js';
import type { CacheRow, ForwardSteps, Matrix, NormWeight, Step, Vector } from '../engine/forward-steps.js';
import type { Plan } from '../plan/plan.js';

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
  /** The weights buffer's name in C (`w.${name}`, and `w.${name}_scales` when quantized). */
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
 * A vector of the run state in forward.c: `x` (forward's alias of s.x), `k` and `v` (pointers to
 * the KV cache's row, which forward sets up per layer, when the steps write the cache in place),
 * `s.name` for the others.
 */
export function cVector(name: Vector | CacheRow): string {
  if (name === 'x') return 'x';
  if (name === 'keyCacheRow') return 'k';
  if (name === 'valueCacheRow') return 'v';
  return `s.${name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)}`;
}

/** The RMSNorm weights of layer `l` (or the final ones) in forward.c. */
export function cNormWeight(name: NormWeight): string {
  return name === 'rmsAtt' ? 'w.rms_att_weight + l * DIM' : name === 'rmsFfn' ? 'w.rms_ffn_weight + l * DIM' : 'w.rms_final_weight';
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
 */
export function forwardFunction(
  steps: ForwardSteps,
  writeStep: (step: Step, indent: string) => string,
  options: { xType: string; scaleOffsets?: boolean; returns: string; boundedCache?: boolean },
): string {
  const rows = options.boundedCache ? 'KV_ROWS' : 'SEQ_LEN';
  const row = options.boundedCache ? 'kv_row' : 'pos';
  const section = (list: Step[], indent: string) =>
    list.map((step) => `${indent}/* ${step.note} */\n${indent}${writeStep(step, indent)}`).join('\n\n');
  const cacheRows = writesCacheRows(steps.layer)
    ? `
        /* key and value point to the kv cache at this position */
        float* k = s.key_cache + loff + ${row} * KV_DIM;
        float* v = s.value_cache + loff + ${row} * KV_DIM;
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
    ${options.xType}* x = s.x;
${bounded}
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
 * forward.c in the order run.c reads: the state and weights (`prologue`), then what forward()
 * calls of the thread-pool wrappers (declared only), forward_init, forward() and sample_logits
 * (`main`), and last the wrappers themselves (`wrappers`: the job structs and the functions that
 * split a kernel's rows over parallel.h's threads). The declarations are the wrappers' functions
 * that do not end in `_rows` (those are what parallel_rows calls).
 */
export function forwardFile(prologue: string, main: string, wrappers: string): string {
  const declared = [...wrappers.matchAll(/^static void (\w+)\((.*)\) \{$/gm)]
    .filter((m) => !m[1].endsWith('_rows'))
    .map((m) => `static void ${m[1]}(${m[2]});`);
  return `${prologue}

/* forward()'s matmuls and attention, split by rows over parallel.h's threads: defined at the end of the file */
${declared.join('\n')}

${main}

/*
 * The thread-pool wrappers: each runs its kernel on the calling thread when the work is too small
 * to share (parallel_worth), else hands parallel_rows a job whose *_rows function computes a range of rows.
 */

${wrappers.trim()}
`;
}
