/**
 * forward.c: the transformer's forward pass for one model and plan, written to read like
 * llama2.c's run.c (`TransformerWeights`, `RunState`, `forward`), with every shape a constant
 * from model.h, the weights read in place from the linked-in blob and the state in static arrays.
 * It calls the kernels of kernels.h, specialized for the model's shapes. forward() is the steps of
 * src/engine/forward-steps.ts, each written as C (the reference engine walks the same list).
 */
import type { WeightDType } from '../checkpoint/model.js';
import { forwardSteps, unsupportedStep, type Matrix, type Step } from '../engine/forward-steps.js';
import type { Plan } from '../plan/plan.js';
import { buffer, groupsOf } from '../plan/plan.js';
import { C_ELEMENT } from './ctypes.js';
import { cNormWeight, cVector, forwardFile, forwardFunction, matrixShapes, rowsFrom, type MatrixShape } from './forward-steps-c.js';
import type { KernelSet } from './kernel-set.js';

/**
 * On the host (x86), Q8_0 matrices with rows at least this long go one row at a time, the row's
 * group sums first (matmulQ8Groups). Measured on the stories110M shape (dim 768, one thread): the
 * four-row blocks ran at 68 tok/s (84 with software prefetch), runq.c's per-group loop at 95, the
 * group sums first at 140-175; its one sequential stream of weights the hardware prefetcher
 * follows better than four. For the stories15M shape (dim 288) the blocks and the group sums run
 * alike. Not measured on the Pis: they keep the blocks (dot_q8_groups has no NEON path).
 */
const PER_ROW_FROM_COLS = 512;

/** In a matmul wrapper of quantized weights: x reaches the kernels quantized (s.xq, s.xs), by the caller. */
const UNUSED_INPUT = '    (void)x; /* quantized by the caller: the matmuls read s.xq and s.xs */';

/**
 * forward.c for float arithmetic: llama2.c's `forward` for this model and plan, its weights f32,
 * Q8_0 or Q4_0 as the plan says (quantized matrices get x quantized once per use, as runq.c),
 * every shape a constant of model.h, weights read in place from the linked-in blob (or the plan's
 * SRAM copies) and the state in static arrays at the plan's offsets; forward() walks
 * forwardSteps('float'). The matmuls are wrappers over kernels specialized for their shapes, split
 * by rows over parallel.h's threads (defined after forward(), in the order of forwardFile). Requests its
 * kernels from `kernels`, whose emit() gives the matching kernels.h; returns the C text, starting
 * with `header`.
 */
export function emitForward(plan: Plan, kernels: KernelSet, header: string): string {
  const c = plan.config;
  const gs = plan.groupSize ?? 0;
  const headSize = c.dim / c.nHeads;
  const kvDim = (c.dim * c.nKvHeads) / c.nHeads;

  const matrices = matrixShapes(c, plan.sharedClassifier);

  // One wrapper per distinct matrix shape and precision: the fully specialized kernel on one
  // thread, or its row-range twin (columns still constant) split over the worker threads.
  const wrappers = new Map<string, string>();
  const jobs = new Set<WeightDType>();
  const matmulFor = (m: MatrixShape, dtype: WeightDType): string => {
    const shapeName = `matmul_${m.rows}x${m.cols}${dtype === 'f32' ? '' : `_${dtype}`}`;
    if (wrappers.has(shapeName)) return shapeName;
    jobs.add(dtype);
    if (dtype === 'f32') {
      const whole = kernels.use('matmulF32', { d: m.rows, n: m.cols });
      const rowsKernel = kernels.use('matmulF32', { n: m.cols });
      wrappers.set(
        shapeName,
        `static void ${shapeName}_rows(const void* job, int start, int end) {
    const MatmulF32Job* m = job;
    ${rowsKernel}(m->xout + start, m->x, m->w + ${rowsFrom(m.cols)}, end - start);
}

/* xout (${m.rows}) = W (${m.rows} x ${m.cols}) · x (${m.cols}) */
static void ${shapeName}(float* xout, const float* x, const float* w) {
    if (!parallel_worth(${m.rows} * ${m.cols})) {
        ${whole}(xout, x, w);
    } else {
        MatmulF32Job job = {xout, x, w};
        parallel_rows(${shapeName}_rows, &job, ${m.rows});
    }
}
`,
      );
      return shapeName;
    }
    // a generic build is the benchmarks' baseline: runq.c's one-row-at-a-time loops
    const longRows = plan.target === 'host' && m.cols >= PER_ROW_FROM_COLS;
    const kernel = dtype === 'q4_0' ? 'matmulQ4' : kernels.isGeneric ? 'matmulQ8PerRow' : longRows ? 'matmulQ8Groups' : 'matmulQ8';
    const whole = kernels.use(kernel, { d: m.rows, n: m.cols, groupSize: gs });
    const rowsKernel = kernels.use(kernel, { n: m.cols, groupSize: gs });
    const rowBytes = dtype === 'q8_0' ? m.cols : Math.ceil(m.cols / 2);
    const job = jobName(dtype);
    const weight = dtype === 'q8_0' ? 'int8_t' : 'uint8_t';
    wrappers.set(
      shapeName,
      `static void ${shapeName}_rows(const void* job, int start, int end) {
    const ${job}* m = job;
    ${rowsKernel}(m->xout + start, m->xq, m->xs, m->wq + ${rowsFrom(rowBytes)}, m->ws + ${rowsFrom(groupsOf(m.cols, gs))}, end - start);
}

/* xout (${m.rows}) = W (${m.rows} x ${m.cols}, ${dtype === 'q8_0' ? 'Q8_0' : 'Q4_0'}) · x (quantized in xq, xs) */
static void ${shapeName}(float* xout, const int8_t* xq, const float* xs, const ${weight}* wq, const float* ws) {
    if (!parallel_worth(${m.rows} * ${m.cols})) {
        ${whole}(xout, xq, xs, wq, ws);
    } else {
        ${job} job = {xout, xq, xs, wq, ws};
        parallel_rows(${shapeName}_rows, &job, ${m.rows});
    }
}
`,
    );
    return shapeName;
  };

  /** `out = W_l · in` as a line of C (quantizing `in` first for Q8_0). */
  const quantizers = new Map<number, string>();
  const quantize = (n: number) => {
    if (!quantizers.has(n)) quantizers.set(n, kernels.use('quantizeQ8', { n, groupSize: gs }));
    return quantizers.get(n)!;
  };
  const dtypeOf = (key: Matrix): WeightDType => buffer(plan, matrices[key].name).matrix ?? 'f32';
  /** The arguments after `out` of a matmul by W_layer: the input (or its quantized form) and the weights. */
  const matmulArgs = (input: string, key: Matrix, layer: string): string => {
    const m = matrices[key];
    const dtype = dtypeOf(key);
    const perLayer = layer ? ` + ${layer} * ${m.rowsMacro} * ${dtype === 'q4_0' ? `((${m.colsMacro} + 1) / 2)` : m.colsMacro}` : '';
    if (dtype === 'f32') return `${input}, w.${m.name}${perLayer}`;
    const scales = layer ? ` + ${layer} * ${m.rowsMacro} * ${groupsMacro(m.colsMacro)}` : '';
    return `s.xq, s.xs, w.${m.name}${perLayer}, w.${m.name}_scales${scales}`;
  };
  const quantizeLine = (key: Matrix, input: string, indent: string): string =>
    dtypeOf(key) === 'f32' ? '' : `${quantize(matrices[key].cols)}(s.xq, s.xs, ${input});\n${indent}`;
  /** `out = W_l · in` as a line of C (quantizing `in` first for Q8_0 and Q4_0). */
  const matmul = (out: string, input: string, key: Matrix, layer: string, indent: string): string =>
    `${quantizeLine(key, input, indent)}${matmulFor(matrices[key], dtypeOf(key))}(${out}, ${matmulArgs(input, key, layer)});`;

  // Matrices applied to the same input (q, k, v; the gate and up projections) go to the threads
  // as one job, so that they wait for each other once instead of once per matrix.
  // (A layer's matrices share one precision, and these share their input's length.)
  const groups: string[] = [];
  const matmulGroup = (name: string, what: string, parts: { out: string; key: Matrix }[], input: string, indent: string): string => {
    const dtype = dtypeOf(parts[0].key);
    const colsMacro = matrices[parts[0].key].colsMacro;
    if (parts.length > MATMUL_GROUP_MAX || parts.some((p) => dtypeOf(p.key) !== dtype || matrices[p.key].colsMacro !== colsMacro)) {
      throw new Error(`internal: ${name} groups matrices that cannot share one job`);
    }
    const fns = parts.map((p) => matmulFor(matrices[p.key], dtype));
    const outs = parts.map((p) => p.out.replace(/^s\./, ''));
    const rows = parts.map((p) => matrices[p.key].rowsMacro);
    groups.push(`/* ${what}: one job of ${rows.join(' + ')} rows on several threads */
static void ${name}(${outs.map((o) => `float* ${o}`).join(', ')}, const float* x, int l) {
${dtype === 'f32' ? '' : `${UNUSED_INPUT}\n`}    if (!parallel_worth((${rows.join(' + ')}) * ${colsMacro})) {
${parts.map((p, i) => `        ${fns[i]}(${outs[i]}, ${matmulArgs('x', p.key, 'l')});`).join('\n')}
        return;
    }
    ${jobName(dtype)} jobs[${parts.length}] = {
${parts.map((p, i) => `        {${outs[i]}, ${matmulArgs('x', p.key, 'l')}},`).join('\n')}
    };
    MatmulGroup group = {${parts.length}, {${fns.map((f) => `${f}_rows`).join(', ')}}, {${parts.map((_, i) => `&jobs[${i}]`).join(', ')}}, {${rows.join(', ')}}};
    parallel_rows(matmul_group_rows, &group, ${rows.join(' + ')});
}
`);
    return `${quantizeLine(parts[0].key, input, indent)}${name}(${parts.map((p) => p.out).join(', ')}, ${input}, l);`;
  };

  const embedding = buffer(plan, 'token_embedding_table').matrix ?? 'f32';
  const embed =
    embedding === 'f32'
      ? `${kernels.use('embedF32', { dim: c.dim })}(x, w.token_embedding_table, token);`
      : `${kernels.use(embedding === 'q8_0' ? 'embedQ8' : 'embedQ4', { dim: c.dim, groupSize: gs })}(x, w.token_embedding_table, w.token_embedding_table_scales, token);`;
  const rmsnorm = kernels.use('rmsnorm', { size: c.dim });
  const rope = kernels.use('rope', { dim: c.dim, kvDim, headSize });
  // generic builds keep run.c's one position at a time (the benchmarks' baseline)
  const attentionKernel = kernels.isGeneric ? 'attention' : 'attentionBlocked';
  const attention = kernels.use(attentionKernel, { nHeads: c.nHeads, headSize, kvDim, kvMul: c.nHeads / c.nKvHeads, seqLen: plan.seqLen });
  const attentionHeads = kernels.use(attentionKernel, { headSize, kvDim, kvMul: c.nHeads / c.nKvHeads, seqLen: plan.seqLen });
  const attentionWrapper = `typedef struct {
    float* xb;
    const float* q;
    int layer_offset;
    int pos;
} AttentionJob;

/* Key/value heads [start, end), each with its KV_MUL query heads (and their rows of att). */
static void attention_rows(const void* job, int start, int end) {
    const AttentionJob* a = job;
    int first = start * KV_MUL; /* the first query head */
    ${attentionHeads}(a->xb + first * HEAD_SIZE, a->q + first * HEAD_SIZE, s.key_cache, s.value_cache, s.att + first * SEQ_LEN,
        a->layer_offset + start * HEAD_SIZE, a->pos, (end - start) * KV_MUL);
}

/* Multihead attention over the layer's cache into xb, the heads split over the threads. */
static void multihead_attention(float* xb, const float* q, int layer_offset, int pos) {
    /* a score and a weighted value per position, head and dimension, each a float product worth about
     * four of the int8 ones parallel_worth counts (measured on x86: 0.16 ns against 0.05) */
    if (!parallel_worth((pos + 1) * 2 * DIM * 4)) {
        ${attention}(xb, q, s.key_cache, s.value_cache, s.att, layer_offset, pos);
        return;
    }
    AttentionJob job = {xb, q, layer_offset, pos};
    parallel_rows(attention_rows, &job, N_KV_HEADS);
}
`;
  // The feed-forward's first half as one job: each thread computes its rows of W1 · x and of
  // W3 · x, then SwiGLU on those values (which need nothing from the other rows), so the threads
  // are handed one job instead of two matmuls and the exponentials.
  const swiglu = kernels.use('swiglu', { hiddenDim: c.hiddenDim });
  const swigluRange = kernels.use('swiglu');
  const ffnWrapper = (gate: Matrix, up: Matrix): string => {
    const ffnDtype = dtypeOf(gate);
    if (dtypeOf(up) !== ffnDtype) throw new Error('internal: the gate and up projections differ in precision');
    const w1 = matmulFor(matrices[gate], ffnDtype);
    const w3 = matmulFor(matrices[up], ffnDtype);
    const ffnJob = jobName(ffnDtype);
    return `typedef struct {
    ${ffnJob} gate; /* hb = W1 · x */
    ${ffnJob} up;   /* hb2 = W3 · x */
} FfnHiddenJob;

static void ffn_hidden_rows(const void* job, int start, int end) {
    const FfnHiddenJob* f = job;
    ${w1}_rows(&f->gate, start, end);
    ${w3}_rows(&f->up, start, end);
    ${swigluRange}(f->gate.xout + start, f->up.xout + start, end - start);
}

/* hb = silu(W1 · x) * (W3 · x) (layer l), the hidden rows split over the threads */
static void ffn_hidden(float* hb, float* hb2, const float* x, int l) {
${ffnDtype === 'f32' ? '' : `${UNUSED_INPUT}\n`}    if (!parallel_worth(2 * HIDDEN_DIM * DIM)) {
        ${w1}(hb, ${matmulArgs('x', gate, 'l')});
        ${w3}(hb2, ${matmulArgs('x', up, 'l')});
        ${swiglu}(hb, hb2);
        return;
    }
    FfnHiddenJob job = {{hb, ${matmulArgs('x', gate, 'l')}}, {hb2, ${matmulArgs('x', up, 'l')}}};
    parallel_rows(ffn_hidden_rows, &job, HIDDEN_DIM);
}
`;
  };
  const residual = kernels.use('residualAdd', { n: c.dim });

  let ffn = '';
  /** One step of the forward pass (src/engine/forward-steps.ts) in C. */
  const writeStep = (step: Step, indent: string): string => {
    const layer = indent.length > 4 ? 'l' : '';
    switch (step.op) {
      case 'embed':
        return embed;
      case 'rmsnorm':
        return `${rmsnorm}(${cVector(step.out)}, ${cVector(step.input)}, ${cNormWeight(step.weight)});`;
      case 'matmuls': {
        const input = cVector(step.input);
        if (step.products.length === 1) {
          const p = step.products[0];
          return matmul(cVector(p.out), input, p.weight, p.weight === 'classifier' ? '' : layer, indent);
        }
        const parts = step.products.map((p) => ({ out: cVector(p.out), key: p.weight }));
        const what = `${parts.map((p) => p.out.replace(/^s\./, '')).join(', ')} = ${parts.map((p) => `${p.key} · x`).join(', ')} (layer l)`;
        return matmulGroup(`matmul_${step.name ?? 'group'}`, what, parts, input, indent);
      }
      case 'rope':
        return `${rope}(s.q, ${cVector(step.k)}, w.rope_cos, w.rope_sin, pos);`;
      case 'attention':
        return 'multihead_attention(s.xb, s.q, loff, pos);';
      case 'residual':
        return `${residual}(x, ${cVector(step.input)});`;
      case 'gatedFfn':
        ffn = ffnWrapper(step.gate.weight, step.up.weight);
        return `${quantizeLine(step.gate.weight, cVector(step.input), indent)}ffn_hidden(${cVector(step.gate.out)}, ${cVector(step.up.out)}, ${cVector(step.input)}, l);`;
      default:
        throw unsupportedStep('the float forward.c', step);
    }
  };
  const forwardBody = `${forwardFunction(forwardSteps('float'), writeStep, { xType: 'float', returns: 's.logits' })}

int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state) {
    return ${kernels.use('sampleNext')}(logits, VOCAB_SIZE, temperature, topp, order, rng_state);
}`;

  const main = `${kernels.isGeneric ? 'int runtime_one = 1; /* shapes reach the kernels as run-time values (a generic build) */\n\n' : ''}void forward_init(int threads) {
${copyWeightsToSram(plan)}    parallel_init(threads);
}

${forwardBody}`;
  const parallel = `${[...jobs].map(jobStruct).join('\n\n')}

${[...wrappers.values()].join('\n')}
${MATMUL_GROUP}

${groups.join('\n')}
${attentionWrapper}
${ffn}`;
  return forwardFile(forwardPrologue(plan, header, 'The activations and the KV cache'), main.trim(), parallel);
}

/**
 * The top of forward.c for either arithmetic: the includes, TransformerWeights (pointers into the
 * linked-in weights blob, at the plan's offsets) and the static RunState.
 */
export function forwardPrologue(plan: Plan, header: string, stateWhat: string): string {
  const weights = plan.buffers.filter((b) => b.role === 'weights');
  const state = plan.buffers.filter((b) => b.role === 'state' && !b.program);
  const copies = new Map(state.filter((b) => b.copyOf).map((b) => [b.copyOf!, b.name]));
  const weightFields = weights.map((b) => `    const ${C_ELEMENT[b.element]}* ${b.name}; /* ${b.description} */`);
  const weightInit = weights.map((b) =>
    copies.has(b.name)
      ? `    .${b.name} = s.${copies.get(b.name)}, /* in SRAM: forward_init copies it from the blob */`
      : `    .${b.name} = (const ${C_ELEMENT[b.element]}*)(model_weights + OFFSET_${b.name.toUpperCase()}),`,
  );
  const stateFields = state.map((b) => `    _Alignas(${b.align}) ${C_ELEMENT[b.element]} ${b.name}[${b.count}]; /* ${b.description} */`);
  return `${header}
#include <stdint.h>
#include <string.h>

#include "forward.h"
#include "kernels.h"
#include "model.h"
#include "parallel.h"

/* The weights, linked in from weights.bin by blobs.S; the offsets are in model.h. */
extern const unsigned char model_weights[];

/* ${stateWhat}: static storage, sized by the plan (no malloc). */
typedef struct {
${stateFields.join('\n')}
} RunState;

static RunState s;

typedef struct {
${weightFields.join('\n')}
} TransformerWeights;

static const TransformerWeights w = {
${weightInit.join('\n')}
};`;
}

/**
 * forward_init's lines that fill the plan's SRAM copies of weights from the blob in flash (none
 * on most targets), so that the kernels then read them at SRAM speed.
 */
export function copyWeightsToSram(plan: Plan): string {
  return plan.buffers
    .filter((b) => b.copyOf)
    .map((b) => `    memcpy(s.${b.name}, model_weights + OFFSET_${b.copyOf!.toUpperCase()}, sizeof s.${b.name}); /* ${b.bytes} bytes */\n`)
    .join('');
}

const MATMUL_GROUP_MAX = 3;

/** Several matmuls as one job of rows: their rows one after the other, each range cut at the matrices' edges. */
export const MATMUL_GROUP = `typedef struct {
    int count;
    RowsFn rows_fn[${MATMUL_GROUP_MAX}];
    const void* job[${MATMUL_GROUP_MAX}];
    int rows[${MATMUL_GROUP_MAX}];
} MatmulGroup;

static void matmul_group_rows(const void* job, int start, int end) {
    const MatmulGroup* g = job;
    int first = 0; /* the group's row where matrix p starts */
    for (int p = 0; p < g->count; first += g->rows[p], p++) {
        int from = start > first ? start : first;
        int to = end < first + g->rows[p] ? end : first + g->rows[p];
        if (from < to) g->rows_fn[p](g->job[p], from - first, to - first);
    }
}`;

function jobName(dtype: WeightDType): string {
  return dtype === 'f32' ? 'MatmulF32Job' : dtype === 'q8_0' ? 'MatmulQ8Job' : 'MatmulQ4Job';
}

function jobStruct(dtype: WeightDType): string {
  if (dtype === 'f32') return 'typedef struct {\n    float* xout;\n    const float* x;\n    const float* w;\n} MatmulF32Job;';
  const name = jobName(dtype);
  const weight = dtype === 'q8_0' ? 'int8_t' : 'uint8_t';
  return `typedef struct {\n    float* xout;\n    const int8_t* xq;\n    const float* xs;\n    const ${weight}* wq;\n    const float* ws;\n} ${name};`;
}

function groupsMacro(colsMacro: string): string {
  return colsMacro === 'DIM' ? 'GROUPS_DIM' : 'GROUPS_HIDDEN_DIM';
}
