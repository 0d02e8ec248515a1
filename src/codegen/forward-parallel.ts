/**
 * The thread-pool wrappers of a float forward pass (forward_parallel.c; forward.c calls them): for each
 * matrix shape and precision a wrapper that runs its specialized kernel on the calling thread, or
 * hands its rows to parallel.h's threads (parallel_rows) when the work is worth it; matrices that
 * share one input as one job (matmul_qkv); the feed-forward's hidden layer with its SwiGLU
 * (ffn_hidden); and the attention split by heads (multihead_attention).
 */
import type { WeightDType } from '../checkpoint/model.js';
import type { Matrix } from '../engine/forward-steps.js';
import type { Plan } from '../plan/plan.js';
import { buffer, groupsOf } from '../plan/plan.js';
import { cacheNames, matrixShapes, parallelFunction, rowsFrom, type MatrixShape, type ParallelFunction } from './forward-steps-c.js';
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

/** In a matmul wrapper of quantized weights: x reaches the kernels quantized (forward_state.xq, forward_state.xs), by the caller. */
const UNUSED_INPUT = '    (void)x; /* quantized by the caller: the matmuls read forward_state.xq and forward_state.xs */';

/** One product of a group: its output vector's C name and its matrix. */
export interface GroupPart {
  out: string;
  key: Matrix;
}

/**
 * The wrappers a float forward() calls, collected as its steps are written: each method returns
 * the C to call and records the wrapper it needs (once); text() gives them all, job structs first.
 */
export class FloatParallel {
  private readonly matrices: Record<Matrix, MatrixShape>;
  private readonly gs: number;
  private readonly wrappers = new Map<string, ParallelFunction>();
  private readonly jobs = new Set<WeightDType>();
  private readonly groups: ParallelFunction[] = [];
  private readonly attentionWrapper: ParallelFunction;
  private ffn?: ParallelFunction;

  constructor(
    private readonly plan: Plan,
    private readonly kernels: KernelSet,
  ) {
    this.matrices = matrixShapes(plan.config, plan.sharedClassifier);
    this.gs = plan.groupSize ?? 0;
    this.attentionWrapper = this.attention();
  }

  /** How the matrix `key` is stored (f32, Q8_0 or Q4_0: the plan says, matrix by matrix). */
  dtypeOf(key: Matrix): WeightDType {
    return buffer(this.plan, this.matrices[key].name).matrix ?? 'f32';
  }

  /** The columns of the matrix `key`: the length of the input it multiplies. */
  colsOf(key: Matrix): number {
    return this.matrices[key].cols;
  }

  /**
   * The arguments after `out` of a matmul by the matrix `key` (of layer `layer`, a C expression,
   * or '' for the classifier): the input (or, for quantized weights, forward_state.xq and forward_state.xs) and the weights.
   */
  args(input: string, key: Matrix, layer: string): string {
    const m = this.matrices[key];
    const dtype = this.dtypeOf(key);
    const perLayer = layer ? ` + ${layer} * ${m.rowsMacro} * ${dtype === 'q4_0' ? `((${m.colsMacro} + 1) / 2)` : m.colsMacro}` : '';
    if (dtype === 'f32') return `${input}, forward_weights.${m.name}${perLayer}`;
    const scales = layer ? ` + ${layer} * ${m.rowsMacro} * ${groupsMacro(m.colsMacro)}` : '';
    return `forward_state.xq, forward_state.xs, forward_weights.${m.name}${perLayer}, forward_weights.${m.name}_scales${scales}`;
  }

  /**
   * The wrapper for the matrix `key` (one per distinct shape and precision): the fully
   * specialized kernel on one thread, or its row-range twin (columns still constant) split over
   * the worker threads. Returns its name.
   */
  matmul(key: Matrix): string {
    const m = this.matrices[key];
    const dtype = this.dtypeOf(key);
    const kernels = this.kernels;
    const shapeName = `matmul_${m.rows}x${m.cols}${dtype === 'f32' ? '' : `_${dtype}`}`;
    if (this.wrappers.has(shapeName)) return shapeName;
    this.jobs.add(dtype);
    if (dtype === 'f32') {
      const whole = kernels.use('matmulF32', { d: m.rows, n: m.cols });
      const rowsKernel = kernels.use('matmulF32', { n: m.cols });
      this.wrappers.set(
        shapeName,
        parallelFunction(shapeName, 'float* xout, const float* x, const float* w', {
          before: `static void ${shapeName}_rows(const void* job, int start, int end) {
    const MatmulF32Job* m = job;
    ${rowsKernel}(m->xout + start, m->x, m->w + ${rowsFrom(m.cols)}, end - start);
}
`,
          comment: `/* xout (${m.rows}) = W (${m.rows} x ${m.cols}) · x (${m.cols}) */`,
          body: `    if (!parallel_worth(${m.rows} * ${m.cols})) {
        ${whole}(xout, x, w);
    } else {
        MatmulF32Job job = {xout, x, w};
        parallel_rows(${shapeName}_rows, &job, ${m.rows});
    }
`,
        }),
      );
      return shapeName;
    }
    // a generic build is the benchmarks' baseline: runq.c's one-row-at-a-time loops
    const gs = this.gs;
    const longRows = this.plan.target === 'host' && m.cols >= PER_ROW_FROM_COLS;
    const kernel = dtype === 'q4_0' ? 'matmulQ4' : kernels.isGeneric ? 'matmulQ8PerRow' : longRows ? 'matmulQ8Groups' : 'matmulQ8';
    const whole = kernels.use(kernel, { d: m.rows, n: m.cols, groupSize: gs });
    const rowsKernel = kernels.use(kernel, { n: m.cols, groupSize: gs });
    const rowBytes = dtype === 'q8_0' ? m.cols : Math.ceil(m.cols / 2);
    const job = jobName(dtype);
    const weight = dtype === 'q8_0' ? 'int8_t' : 'uint8_t';
    this.wrappers.set(
      shapeName,
      parallelFunction(shapeName, `float* xout, const int8_t* xq, const float* xs, const ${weight}* wq, const float* ws`, {
        before: `static void ${shapeName}_rows(const void* job, int start, int end) {
    const ${job}* m = job;
    ${rowsKernel}(m->xout + start, m->xq, m->xs, m->wq + ${rowsFrom(rowBytes)}, m->ws + ${rowsFrom(groupsOf(m.cols, gs))}, end - start);
}
`,
        comment: `/* xout (${m.rows}) = W (${m.rows} x ${m.cols}, ${dtype === 'q8_0' ? 'Q8_0' : 'Q4_0'}) · x (quantized in xq, xs) */`,
        body: `    if (!parallel_worth(${m.rows} * ${m.cols})) {
        ${whole}(xout, xq, xs, wq, ws);
    } else {
        ${job} job = {xout, xq, xs, wq, ws};
        parallel_rows(${shapeName}_rows, &job, ${m.rows});
    }
`,
      }),
    );
    return shapeName;
  }

  /**
   * Matrices applied to the same input (q, k, v) as one job for the threads, so that they wait
   * for each other once instead of once per matrix: the wrapper `name(outs…, x, l)` (layer l),
   * which needs the parts to share one precision and one input length. Returns nothing: forward()
   * calls it by `name`.
   */
  group(name: string, what: string, parts: GroupPart[]): void {
    const matrices = this.matrices;
    const dtype = this.dtypeOf(parts[0].key);
    const colsMacro = matrices[parts[0].key].colsMacro;
    if (parts.length > MATMUL_GROUP_MAX || parts.some((p) => this.dtypeOf(p.key) !== dtype || matrices[p.key].colsMacro !== colsMacro)) {
      throw new Error(`internal: ${name} groups matrices that cannot share one job`);
    }
    const fns = parts.map((p) => this.matmul(p.key));
    const outs = parts.map((p) => p.out.replace(/^forward_state\./, ''));
    const rows = parts.map((p) => matrices[p.key].rowsMacro);
    this.groups.push(
      parallelFunction(name, `${outs.map((o) => `float* ${o}`).join(', ')}, const float* x, int l`, {
        comment: `/* ${what}: one job of ${rows.join(' + ')} rows on several threads */`,
        body: `${dtype === 'f32' ? '' : `${UNUSED_INPUT}\n`}    if (!parallel_worth((${rows.join(' + ')}) * ${colsMacro})) {
${parts.map((p, i) => `        ${fns[i]}(${outs[i]}, ${this.args('x', p.key, 'l')});`).join('\n')}
        return;
    }
    ${jobName(dtype)} jobs[${parts.length}] = {
${parts.map((p, i) => `        {${outs[i]}, ${this.args('x', p.key, 'l')}},`).join('\n')}
    };
    MatmulGroup group = {${parts.length}, {${fns.map((f) => `${f}_rows`).join(', ')}}, {${parts.map((_, i) => `&jobs[${i}]`).join(', ')}}, {${rows.join(', ')}}};
    parallel_rows(matmul_group_rows, &group, ${rows.join(' + ')});
`,
      }),
    );
  }

  /**
   * The feed-forward's first half as one job, `ffn_hidden(hb, hb2, x, l)`: each thread computes
   * its rows of W_gate · x and of W_up · x, then SwiGLU on those values (which need nothing from
   * the other rows), so the threads are handed one job instead of two matmuls and the exponentials.
   */
  ffnHidden(gate: Matrix, up: Matrix): void {
    const kernels = this.kernels;
    const c = this.plan.config;
    const swiglu = kernels.use('swiglu', { hiddenDim: c.hiddenDim });
    const swigluRange = kernels.use('swiglu');
    const ffnDtype = this.dtypeOf(gate);
    if (this.dtypeOf(up) !== ffnDtype) throw new Error('internal: the gate and up projections differ in precision');
    const w1 = this.matmul(gate);
    const w3 = this.matmul(up);
    const ffnJob = jobName(ffnDtype);
    this.ffn = parallelFunction('ffn_hidden', 'float* hb, float* hb2, const float* x, int l', {
      before: `typedef struct {
    ${ffnJob} gate; /* hb = W1 · x */
    ${ffnJob} up;   /* hb2 = W3 · x */
} FfnHiddenJob;

static void ffn_hidden_rows(const void* job, int start, int end) {
    const FfnHiddenJob* f = job;
    ${w1}_rows(&f->gate, start, end);
    ${w3}_rows(&f->up, start, end);
    ${swigluRange}(f->gate.xout + start, f->up.xout + start, end - start);
}
`,
      comment: '/* hb = silu(W1 · x) * (W3 · x) (layer l), the hidden rows split over the threads */',
      body: `${ffnDtype === 'f32' ? '' : `${UNUSED_INPUT}\n`}    if (!parallel_worth(2 * HIDDEN_DIM * DIM)) {
        ${w1}(hb, ${this.args('x', gate, 'l')});
        ${w3}(hb2, ${this.args('x', up, 'l')});
        ${swiglu}(hb, hb2);
        return;
    }
    FfnHiddenJob job = {{hb, ${this.args('x', gate, 'l')}}, {hb2, ${this.args('x', up, 'l')}}};
    parallel_rows(ffn_hidden_rows, &job, HIDDEN_DIM);
`,
    });
  }

  /** forward_parallel.c's C, every wrapper recorded: the job structs, the matmuls, the groups, the attention, the feed-forward. */
  parts(): (string | ParallelFunction)[] {
    return [
      [...this.jobs].map(jobStruct).join('\n\n'),
      ...this.wrappers.values(),
      MATMUL_GROUP,
      ...this.groups,
      this.attentionWrapper,
      ...(this.ffn ? [this.ffn] : []),
    ];
  }

  /** multihead_attention(xb, q, layer_offset, pos): the attention, its key/value heads split over the threads. */
  private attention(): ParallelFunction {
    const c = this.plan.config;
    const headSize = c.dim / c.nHeads;
    const kvDim = (c.dim * c.nKvHeads) / c.nHeads;
    // generic builds keep run.c's one position at a time (the benchmarks' baseline)
    const attentionKernel = this.kernels.isGeneric ? 'attention' : 'attentionBlocked';
    // att has a row of the cache's length per head (seq_len, or a bounded cache's rows)
    const shapes = { headSize, kvDim, kvMul: c.nHeads / c.nKvHeads, seqLen: this.plan.cacheRows };
    const attention = this.kernels.use(attentionKernel, { nHeads: c.nHeads, ...shapes });
    const attentionHeads = this.kernels.use(attentionKernel, shapes);
    return parallelFunction('multihead_attention', 'float* xb, const float* q, int layer_offset, int pos', {
      before: `typedef struct {
    float* xb;
    const float* q;
    int layer_offset;
    int pos;
} AttentionJob;

/* Key/value heads [start, end), each with its KV_MUL query heads (and their rows of att). */
static void attention_rows(const void* job, int start, int end) {
    const AttentionJob* a = job;
    int first = start * KV_MUL; /* the first query head */
    ${attentionHeads}(a->xb + first * HEAD_SIZE, a->q + first * HEAD_SIZE, forward_state.key_cache, forward_state.value_cache, forward_state.att + first * ${cacheNames(this.plan).rows},
        a->layer_offset + start * HEAD_SIZE, a->pos, (end - start) * KV_MUL);
}
`,
      comment: "/* Multihead attention over the layer's cache into xb, the heads split over the threads. */",
      body: `    /* a score and a weighted value per position, head and dimension, each a float product worth about
     * four of the int8 ones parallel_worth counts (measured on x86: 0.16 ns against 0.05) */
    if (!parallel_worth((pos + 1) * 2 * DIM * 4)) {
        ${attention}(xb, q, forward_state.key_cache, forward_state.value_cache, forward_state.att, layer_offset, pos);
        return;
    }
    AttentionJob job = {xb, q, layer_offset, pos};
    parallel_rows(attention_rows, &job, N_KV_HEADS);
`,
    });
  }
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
