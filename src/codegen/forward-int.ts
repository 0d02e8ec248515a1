/**
 * forward.c for an integer-mode plan (doc/kernels.md, "Integer mode"): the same structure as
 * llama2.c's `forward` (the steps of forwardSteps('integer'), src/engine/forward-steps.ts), computing
 * what src/engine/transformer-int.ts computes by walking the same steps, with Q16.16
 * activations, an int8 KV cache and the fixed-point weights of src/quant/fixed-point.ts. The
 * matmuls (with SwiGLU after the feed-forward's first two) split their rows over parallel.h's
 * threads (the RP2040's second core with --threads 2), the attention its heads, when the plan
 * gives att a row per part of the heads (src/plan/plan.ts, attentionParts).
 */
import { buffer, type Plan } from '../plan/plan.js';
import type { FixedMatrix, FixedModel } from '../quant/fixed-point.js';
import { copyWeightsToSram, forwardDefinitions, forwardTypes } from './forward.js';
import { CLASSIFIER_BLOCK, forwardSteps, unsupportedStep, type Matrix, type Step, type Vector } from '../engine/forward-steps.js';
import {
  cacheNames,
  cNormWeight,
  cVector,
  forwardFunction,
  forwardSources,
  matrixShapes,
  parallelFunction,
  rowsFrom,
  type ForwardKernels,
  type ForwardSources,
  type ParallelFunction,
} from './forward-steps-c.js';
import type { KernelSet } from './kernel-set.js';
import { WeightStream } from './weight-stream.js';

/**
 * forward.c for integer arithmetic: the whole forward pass of a llama2.c model in fixed point
 * (Q16.16 activations, int8 KV cache, `model`'s Q8_0 or Q4_0 weights with fixed-point group scales), for
 * the shapes and memory plan of `plan`. Each matmul becomes a wrapper over a kernel specialized for
 * its shape and shift, split by rows (Q4_0: row pairs) over parallel.h's threads (the RP2040's second core).
 * A plan whose classifier is in blocks (Plan.classifier) stops forward() at the final rmsnorm (it
 * returns NULL), and sample_logits() runs the classifier a block at a time.
 * The wrappers go to forward_parallel.c. Requests each file's kernels from its set of `sets`, whose
 * emit() gives the matching kernels.h and kernels_parallel.h; returns the C of both files, each
 * starting with its header of `headers`.
 */
export function emitForwardInt(
  plan: Plan,
  model: FixedModel,
  sets: ForwardKernels,
  headers: { forward: string; parallel: string },
): ForwardSources {
  const kernels = sets.forward;
  const wrapperKernels = sets.parallel;
  const c = plan.config;
  const gs = model.groupSize;
  const headSize = c.dim / c.nHeads;
  const kvDim = (c.dim * c.nKvHeads) / c.nHeads;
  const layer = model.layers[0];

  const quantize = (n: number) => kernels.use('quantizeQ8Int', { n, groupSize: gs });
  // one wrapper per shape and scale shift: the specialized kernel on one core, or its row-range
  // twin (columns still constant) split by parallel_rows
  const wrappers = new Map<string, ParallelFunction>();
  // Q8_0 rows take a byte per value; Q4_0 rows, in row-pair words (src/kernels/matmul-q4-int.ts), a word per 8 values
  const rowElements = (m: FixedMatrix) => (m.dtype === 'q8_0' ? m.cols : m.cols / 8);
  const matmulFor = (m: FixedMatrix, rows: number): string => {
    const { cols, scaleShift: shift } = m;
    const q4 = m.dtype === 'q4_0';
    const name = `matmul_${rows}x${cols}_${q4 ? 'q4' : 'q8'}_int_s${shift}`;
    if (wrappers.has(name)) return name;
    const kernel = q4 ? 'matmulQ4Int' : 'matmulQ8Int';
    // Q4_0 reads the activation widened (forward_state.xw), and its rows are shared out between threads in pairs
    const [elements, unit] = q4 ? ['int32_t', 2] : ['int8_t', 1];
    const whole = wrapperKernels.use(kernel, { d: rows, n: cols, groupSize: gs, scaleShift: shift });
    const rowsKernel = wrapperKernels.use(kernel, { n: cols, groupSize: gs, scaleShift: shift });
    const first = rowsFrom(unit);
    wrappers.set(
      name,
      parallelFunction(name, `int32_t* xout, const ${elements}* x, const int32_t* xm, const ${elements}* wq, const int16_t* ws`, {
        before: `static void ${name}_rows(const void* job, int start, int end) {
    const MatmulIntJob* m = job;
    ${rowsKernel}(m->xout + ${first}, (const ${elements}*)m->x, m->xm, (const ${elements}*)m->wq + ${rowsFrom(unit * rowElements(m))}, m->ws + ${rowsFrom(unit * Math.ceil(cols / gs))}, (end - start) * ${unit});
}
`,
        comment: `/* xout (${rows}, Q16.16) = W (${rows} x ${cols}, ${q4 ? 'Q4_0 in row-pair words' : 'Q8_0'}, scales shifted by ${shift}) · x (quantized in xq, xm${q4 ? ', widened in xw' : ''}) */`,
        body: `    if (!parallel_worth(${rows} * ${cols})) {
        ${whole}(xout, x, xm, wq, ws);
    } else {
        MatmulIntJob job = {xout, x, xm, wq, ws};
        parallel_rows(${name}_rows, &job, ${rows / unit});
    }
`,
      }),
    );
    return name;
  };
  const fixedMatrix = (key: Matrix): FixedMatrix => (key === 'classifier' ? model.classifier : layer[key]);
  /** The quantized activation a matrix reads: int8 for Q8_0, widened to int32 for Q4_0. */
  const activation = (m: FixedMatrix) => (m.dtype === 'q4_0' ? 'forward_state.xw' : 'forward_state.xq');
  const matrices = matrixShapes(c, plan.sharedClassifier);
  // the matrices not copied to SRAM come from the weight stream's ring (PlanOptions.streamWeights)
  const stream = WeightStream.forPlan(plan);
  /** Whether the matrix `key` is read from the weight stream's ring (in the table's order: one product after the other). */
  const streamed = (key: Matrix): boolean => stream?.streams(matrices[key].name) ?? false;
  /** The wrapper of a product by the matrix `key`. */
  const matmulOf = (key: Matrix): string => matmulFor(fixedMatrix(key), matrices[key].rows);
  /** The arguments after `out` of a product by the matrix `key` (of layer l): (xq, xm) and W's values and scales. */
  const matmulArgs = (key: Matrix): string => {
    const m = matrices[key];
    const fm = fixedMatrix(key);
    const perLayer = key !== 'classifier';
    const values = perLayer ? ` + l * ${m.rows * rowElements(fm)}` : '';
    const scales = perLayer ? ` + l * ${m.rows * Math.ceil(m.cols / gs)}` : '';
    return `${activation(fm)}, forward_state.xm, forward_weights.${m.name}${values}, forward_weights.${m.name}_scales${scales}`;
  };
  /**
   * The product by the matrix `key` read from the weight stream's ring, a block of rows at a time,
   * each block by the wrapper for its shape (split between the threads as any matmul): `out(first)`
   * where the block from row `first` goes, `after` what follows each block (the classifier's argmax).
   */
  const streamedMatmul = (
    key: Matrix,
    out: (first: string) => string,
    after?: (first: string, count: number) => string,
    maxBlockRows?: number,
  ) => {
    const m = matrices[key];
    const fm = fixedMatrix(key);
    return stream!.matmul({
      wrapper: (count) => matmulFor(fm, count),
      out,
      x: activation(fm),
      q4: fm.dtype === 'q4_0',
      name: m.name,
      rows: m.rows,
      cols: m.cols,
      groupSize: gs,
      perLayer: key !== 'classifier',
      maxBlockRows,
      after,
    });
  };
  /** `out = W · (xq, xm)`, W the layer's (or the model's) matrix `key`. */
  const matmul = (out: string, key: Matrix): string => {
    if (streamed(key)) return streamedMatmul(key, (first) => `${out} + ${first}`);
    return `${matmulOf(key)}(${out}, ${matmulArgs(key)});`;
  };
  /**
   * xq, xm ← the vector `input` (its length: the columns of the matrix `key` it is multiplied by) quantized,
   * and widened into xw when that matrix is Q4_0; `cInput` names the vector in C (outside forward(), x is forward_state.x).
   */
  const quantizeFor = (input: Vector, key: Matrix, cInput = cVector(input)): string => {
    const n = matrices[key].cols;
    const widen =
      fixedMatrix(key).dtype === 'q4_0'
        ? ` ${kernels.use('widenQ4Activation', { n, groupSize: gs })}(forward_state.xw, forward_state.xq);`
        : '';
    return `${quantize(n)}(forward_state.xq, forward_state.xm, ${cInput});${widen}`;
  };
  /**
   * sample_logits for a classifier in blocks: the classifier CLASSIFIER_BLOCK rows at a time into
   * forward_state.logits_block, each block folded into the running argmax (greedy) or top-p's candidates (as
   * the engine's Sampler.sampleFromBlocks), then the token.
   */
  const sampleFromBlocks = (): string => {
    const m = matrices.classifier;
    const fm = model.classifier;
    const block = Math.min(CLASSIFIER_BLOCK, m.rows);
    const full = m.rows - (m.rows % block);
    const rows = (count: number, first: string) =>
      `${matmulFor(fm, count)}(forward_state.logits_block, ${activation(fm)}, forward_state.xm, forward_weights.${m.name} + ${first} * ${rowElements(fm)}, forward_weights.${m.name}_scales + ${first} * ${Math.ceil(m.cols / gs)});`;
    const argmax = kernels.use('argmaxFixedBlock');
    const fold = kernels.use('foldCandidates');
    // streamed, the blocks come from the ring in the stream's order (and forward() skips them when
    // no token is sampled: classifier_unread); else from flash, a block at a time
    const classifierBlocks = streamed('classifier')
      ? `    classifier_unread = 0;
    ${streamedMatmul(
      'classifier',
      () => 'forward_state.logits_block',
      (first, count) => `fold_block(${first}, ${count}, inv_temp);`,
      block,
    )}
`
      : `    for (int first = 0; first < ${full}; first += ${block}) {
        ${rows(block, 'first')}
        fold_block(first, ${block}, inv_temp);
    }
${full < m.rows ? `    ${rows(m.rows - full, String(full))}\n    fold_block(${full}, ${m.rows - full}, inv_temp);\n` : ''}`;
    return `/* the logits_block of tokens first .. first + count - 1 into the running argmax (inv_temp 0: greedy) or the candidates */
static void fold_block(int first, int count, int32_t inv_temp) {
    if (inv_temp == 0)
        ${argmax}(forward_state.best, forward_state.logits_block, first, count);
    else
        ${fold}(forward_state.sampler_tally, forward_state.sampler_top_logits, forward_state.sampler_top_ids, SAMPLER_CANDIDATES, forward_state.logits_block, first, count, VOCAB_SIZE, inv_temp, forward_weights.exp_table);
}

/*
 * The classifier kept no logits vector (forward() stopped at the final rmsnorm): it runs here, a block
 * of ${block} rows at a time, each block folded into the running argmax at temperature 0, else into the
 * SAMPLER_CANDIDATES largest logits and the tally of the others (src/kernels/sampling-blocks-int.ts).
 */
int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state) {
    (void)logits;
    int32_t inv_temp = temperature == 0.0f ? 0 : ${kernels.use('inverseTemperatureQ16')}(temperature);
    if (inv_temp == 0)
        forward_state.best[0] = -1;
    else
        ${kernels.use('candidatesStart')}(forward_state.sampler_tally);
    ${quantizeFor('x', 'classifier', 'forward_state.x')}
${classifierBlocks}    if (inv_temp == 0) return forward_state.best[0];
    return ${kernels.use('sampleCandidates')}(forward_state.sampler_tally, forward_state.sampler_top_logits, forward_state.sampler_top_ids, VOCAB_SIZE, inv_temp, topp, order, rng_state, forward_weights.exp_table);
}`;
  };
  const rmsnorm = kernels.use('rmsnormInt', { size: c.dim });
  const residual = kernels.use('residualAddInt', { n: c.dim });
  const kvMul = c.nHeads / c.nKvHeads;

  // attention: each part of the key/value heads in its own row of att (the plan has one per thread)
  const attParts = buffer(plan, 'att').count / plan.cacheRows;
  const cache = cacheNames(plan);
  /** The attention kernel over all the heads, from the kernels of `set`. */
  const attentionAll = (set: KernelSet) => set.use('attentionInt', { nHeads: c.nHeads, headSize, kvDim, kvMul });
  /** The attention kernel's arguments up to the cache offsets, for the query heads from `head` on (a C expression, or '' for all). */
  const attentionArgs = (head: string, att: string): string => {
    const at = (n: string) => (head ? ` + ${head}${n}` : '');
    return `forward_state.xb${at(' * HEAD_SIZE')}, forward_state.q${at(' * HEAD_SIZE')}, forward_state.qq${at(' * HEAD_SIZE')}, forward_state.qm${at('')}, forward_state.key_cache, forward_state.key_scale, forward_state.value_cache, forward_state.value_scale, forward_weights.kv_scale_table, ${att}, forward_weights.exp_table`;
  };
  const attentionWrapper = (): ParallelFunction => {
    const heads = wrapperKernels.use('attentionInt', { headSize, kvDim, kvMul });
    return parallelFunction('multihead_attention', 'int layer_offset, int layer_scales, int pos', {
      before: `typedef struct {
    int layer_offset; /* the layer's cache, in values */
    int layer_scales; /* and in scale codes */
    int pos;
} AttentionIntJob;

/*
 * Parts [start, end) of the attention: part p is the key/value heads [p * N_KV_HEADS / ${attParts},
 * (p + 1) * N_KV_HEADS / ${attParts}) with their KV_MUL query heads, computed in row p of att.
 */
static void attention_rows(const void* job, int start, int end) {
    const AttentionIntJob* a = job;
    for (int p = start; p < end; p++) {
        int first = p * N_KV_HEADS / ${attParts};
        int count = (p + 1) * N_KV_HEADS / ${attParts} - first;
        ${heads}(${attentionArgs('first * KV_MUL', `forward_state.att + p * ${cache.rows}`)},
            a->layer_offset + first * HEAD_SIZE, a->layer_scales + first, a->pos, count * KV_MUL);
    }
}
`,
      comment: "/* Multihead attention over the layer's cache into xb, the heads split over the threads. */",
      body: `    if (!parallel_worth((pos + 1) * 2 * DIM)) {
        ${attentionAll(wrapperKernels)}(${attentionArgs('', 'forward_state.att')}, layer_offset, layer_scales, pos);
        return;
    }
    AttentionIntJob job = {layer_offset, layer_scales, pos};
    parallel_rows(attention_rows, &job, ${attParts});
`,
    });
  };

  /**
   * hb = W_gate · x, hb2 = W_up · x, then hb = SwiGLU(hb, hb2): one product after the other, as C
   * lines joined by `separator`, calling the kernels of `set`.
   */
  const ffnInOrder = (gate: Matrix, up: Matrix, hb: string, hb2: string, separator: string, set: KernelSet): string =>
    [
      matmul(hb, gate),
      matmul(hb2, up),
      `${set.use('swigluInt', { hiddenDim: c.hiddenDim })}(${hb}, ${hb2}, forward_weights.exp_table);`,
    ].join(separator);
  /** Whether the thread jobs of a product by `key` take single rows (not streamed, not Q4_0's row pairs). */
  const rowByRow = (key: Matrix): boolean => !streamed(key) && fixedMatrix(key).dtype === 'q8_0';
  /**
   * The feed-forward's first half as one job, `ffn_hidden(hb, hb2, l)`: each thread computes its
   * rows of W_gate · x and W_up · x, then SwiGLU on them (which needs nothing from the other rows).
   */
  const ffnHiddenWrapper = (gate: Matrix, up: Matrix): ParallelFunction => {
    const w1 = matmulOf(gate);
    const w3 = matmulOf(up);
    return parallelFunction('ffn_hidden', 'int32_t* hb, int32_t* hb2, int l', {
      before: `typedef struct {
    MatmulIntJob gate; /* hb = W1 · x */
    MatmulIntJob up;   /* hb2 = W3 · x */
} FfnHiddenIntJob;

static void ffn_hidden_rows(const void* job, int start, int end) {
    const FfnHiddenIntJob* f = job;
    ${w1}_rows(&f->gate, start, end);
    ${w3}_rows(&f->up, start, end);
    ${wrapperKernels.use('swigluInt')}(f->gate.xout + start, f->up.xout + start, forward_weights.exp_table, end - start);
}
`,
      comment: '/* hb = silu(W1 · x) * (W3 · x) (layer l, x quantized in xq, xm), the hidden rows split over the threads */',
      body: `    if (!parallel_worth(2 * HIDDEN_DIM * DIM)) {
        ${ffnInOrder(gate, up, 'hb', 'hb2', '\n        ', wrapperKernels)}
        return;
    }
    FfnHiddenIntJob job = {{hb, ${matmulArgs(gate)}}, {hb2, ${matmulArgs(up)}}};
    parallel_rows(ffn_hidden_rows, &job, HIDDEN_DIM);
`,
    });
  };

  /** One step of the forward pass (src/engine/forward-steps.ts) in C. */
  const writeStep = (step: Step, indent: string): string => {
    const lines = (...list: string[]) => list.join(`\n${indent}`);
    switch (step.op) {
      case 'embed': {
        const kernel = model.tokenEmbedding.dtype === 'q8_0' ? 'embedQ8Int' : 'embedQ4Int';
        const embed = kernels.use(kernel, { dim: c.dim, groupSize: gs, scaleShift: model.tokenEmbedding.scaleShift });
        return `${embed}(x, forward_weights.token_embedding_table, forward_weights.token_embedding_table_scales, token);`;
      }
      case 'rmsnorm':
        return `${rmsnorm}(${cVector(step.out)}, ${cVector(step.input)}, ${cNormWeight(step.weight)});`;
      case 'matmuls':
        // the input quantized once for all the step's matrices
        return lines(quantizeFor(step.input, step.products[0].weight), ...step.products.map((p) => matmul(cVector(p.out), p.weight)));
      case 'rope':
        return `${kernels.use('ropeInt', { dim: c.dim, kvDim, headSize })}(forward_state.q, ${cVector(step.k)}, forward_weights.rope_cos, forward_weights.rope_sin, pos);`;
      case 'storeKv':
        return `${kernels.use('storeKvInt', { kvDim, headSize })}(forward_state.key_cache, forward_state.key_scale, forward_state.value_cache, forward_state.value_scale, forward_state.k, forward_state.v, forward_weights.kv_scale_table, loff + ${cache.row} * KV_DIM, soff + ${cache.row} * N_KV_HEADS);`;
      case 'attention':
        // on one thread (one row of att), the kernel over all the heads; else split by heads
        if (attParts === 1) return `${attentionAll(kernels)}(${attentionArgs('', 'forward_state.att')}, loff, soff, ${cache.last});`;
        wrappers.set('multihead_attention', attentionWrapper());
        return `multihead_attention(loff, soff, ${cache.last});`;
      case 'residual':
        return `${residual}(x, ${cVector(step.input)});`;
      case 'gatedFfn':
        if (!rowByRow(step.gate.weight) || !rowByRow(step.up.weight)) {
          // streamed matrices go through the ring in the table's order (a block at a time), and Q4_0
          // ones are shared out in row pairs: one product after the other (each still split by its wrapper)
          const ffn = ffnInOrder(step.gate.weight, step.up.weight, cVector(step.gate.out), cVector(step.up.out), `\n${indent}`, kernels);
          return lines(quantizeFor(step.input, step.gate.weight), ffn);
        }
        wrappers.set('ffn_hidden', ffnHiddenWrapper(step.gate.weight, step.up.weight));
        return lines(quantizeFor(step.input, step.gate.weight), `ffn_hidden(${cVector(step.gate.out)}, ${cVector(step.up.out)}, l);`);
      case 'logitsToFloat':
        return `${kernels.use('fixedToFloat', { n: c.vocabSize })}(forward_state.logits, forward_state.logits_fixed);`;
      default:
        throw unsupportedStep('the integer forward.c', step);
    }
  };

  const blocks = plan.classifier === 'blocks';
  const steps = forwardSteps('integer', plan.classifier);
  const sampling = blocks
    ? sampleFromBlocks()
    : `/* integer mode samples the Q16.16 logits (src/kernels/sampling-int.ts); greedy the float32 ones */
int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state) {
    return ${kernels.use('sampleNextFixed')}(logits, forward_state.logits_fixed, VOCAB_SIZE, temperature, topp, order, rng_state, forward_weights.exp_table);
}`;
  // a streamed classifier in blocks is read by sample_logits, which positions that sample nothing
  // (the prompt) do not call: forward() then skips its segments, keeping the ring in the table's order
  const skipsClassifier = blocks && streamed('classifier');
  const unread = skipsClassifier
    ? `/* 1 from forward() until sample_logits has read the classifier's rows from the stream */
static int classifier_unread;

`
    : '';
  const prologue = skipsClassifier
    ? `    if (classifier_unread) { /* the last position sampled nothing: its classifier rows, unread */
        ${stream!.skip(matrices.classifier.name)}
    }
    classifier_unread = 1;
`
    : '';
  const body = `${unread}${forwardFunction(steps, writeStep, { xType: 'int32_t', scaleOffsets: true, returns: blocks ? 'NULL' : 'forward_state.logits', boundedCache: plan.kvWindow !== undefined, prologue })}

${sampling}`;

  // the stream's table once forward() has taken its segments (WeightStream.matmul records them)
  const streamTable = stream ? `#include "weight_stream.h"\n\n${stream.table(c.nLayers)}\n` : '';
  const main = `${streamTable}void forward_init(int threads) {
${copyWeightsToSram(plan)}${stream?.init() ?? ''}    parallel_init(threads);
}

${body}`;
  const job = `typedef struct {
    int32_t* xout;
    const void* x; /* the quantized activation: int8 (xq), or widened to int32 for Q4_0 (xw) */
    const int32_t* xm;
    const void* wq; /* int8 (Q8_0) values, or Q4_0 in row-pair words */
    const int16_t* ws;
} MatmulIntJob;`;
  const types = forwardTypes(plan, 'The activations (Q16.16) and the int8 KV cache');
  return forwardSources(headers, types, forwardDefinitions(plan), main.trim(), [job, ...wrappers.values()]);
}
