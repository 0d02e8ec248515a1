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
import type { FixedModel } from '../quant/fixed-point.js';
import { copyWeightsToSram, forwardPrologue } from './forward.js';
import { forwardSteps, unsupportedStep, type Matrix, type Step, type Vector } from '../engine/forward-steps.js';
import { cNormWeight, cVector, forwardFile, forwardFunction, matrixShapes, rowsFrom } from './forward-steps-c.js';
import type { KernelSet } from './kernel-set.js';
import { WeightStream } from './weight-stream.js';

/**
 * forward.c for integer arithmetic: the whole forward pass of a llama2.c model in fixed point
 * (Q16.16 activations, int8 KV cache, `model`'s Q8_0 weights with fixed-point group scales), for
 * the shapes and memory plan of `plan`. Each matmul becomes a wrapper over a kernel specialized for
 * its shape and shift, split by rows over parallel.h's threads (the RP2040's second core).
 * Requests its kernels from `kernels`, whose emit() gives the matching kernels.h; returns the C
 * text, starting with `header`.
 */
export function emitForwardInt(plan: Plan, model: FixedModel, kernels: KernelSet, header: string): string {
  const c = plan.config;
  const gs = model.groupSize;
  const headSize = c.dim / c.nHeads;
  const kvDim = (c.dim * c.nKvHeads) / c.nHeads;
  const layer = model.layers[0];

  const quantize = (n: number) => kernels.use('quantizeQ8Int', { n, groupSize: gs });
  // one wrapper per shape and scale shift: the specialized kernel on one core, or its row-range
  // twin (columns still constant) split by parallel_rows
  const wrappers = new Map<string, string>();
  const matmulFor = (rows: number, cols: number, shift: number): string => {
    const name = `matmul_${rows}x${cols}_q8_int_s${shift}`;
    if (wrappers.has(name)) return name;
    const whole = kernels.use('matmulQ8Int', { d: rows, n: cols, groupSize: gs, scaleShift: shift });
    const rowsKernel = kernels.use('matmulQ8Int', { n: cols, groupSize: gs, scaleShift: shift });
    wrappers.set(
      name,
      `static void ${name}_rows(const void* job, int start, int end) {
    const MatmulQ8IntJob* m = job;
    ${rowsKernel}(m->xout + start, m->xq, m->xm, m->wq + ${rowsFrom(cols)}, m->ws + ${rowsFrom(Math.ceil(cols / gs))}, end - start);
}

/* xout (${rows}, Q16.16) = W (${rows} x ${cols}, Q8_0, scales shifted by ${shift}) · x (quantized in xq, xm) */
static void ${name}(int32_t* xout, const int8_t* xq, const int32_t* xm, const int8_t* wq, const int16_t* ws) {
    if (!parallel_worth(${rows} * ${cols})) {
        ${whole}(xout, xq, xm, wq, ws);
    } else {
        MatmulQ8IntJob job = {xout, xq, xm, wq, ws};
        parallel_rows(${name}_rows, &job, ${rows});
    }
}
`,
    );
    return name;
  };
  const matrices = matrixShapes(c, plan.sharedClassifier);
  // the matrices not copied to SRAM come from the weight stream's ring (PlanOptions.streamWeights)
  const stream = WeightStream.forPlan(plan);
  /** Whether the matrix `key` is read from the weight stream's ring (then on core 0 only). */
  const streamed = (key: Matrix): boolean => stream?.streams(matrices[key].name) ?? false;
  /** The wrapper of a product by the matrix `key`. */
  const matmulOf = (key: Matrix): string => {
    const m = matrices[key];
    return matmulFor(m.rows, m.cols, key === 'classifier' ? model.classifier.scaleShift : layer[key].scaleShift);
  };
  /** The arguments after `out` of a product by the matrix `key` (of layer l): (xq, xm) and W's values and scales. */
  const matmulArgs = (key: Matrix): string => {
    const m = matrices[key];
    const perLayer = key !== 'classifier';
    const values = perLayer ? ` + l * ${m.rows * m.cols}` : '';
    const scales = perLayer ? ` + l * ${m.rows * Math.ceil(m.cols / gs)}` : '';
    return `s.xq, s.xm, w.${m.name}${values}, w.${m.name}_scales${scales}`;
  };
  /** `out = W · (xq, xm)`, W the layer's (or the model's) matrix `key`. */
  const matmul = (out: string, key: Matrix): string => {
    const m = matrices[key];
    if (streamed(key)) {
      const shift = key === 'classifier' ? model.classifier.scaleShift : layer[key].scaleShift;
      const kernel = kernels.use('matmulQ8Int', { n: m.cols, groupSize: gs, scaleShift: shift });
      return stream!.matmul({ kernel, out, name: m.name, rows: m.rows, cols: m.cols, groupSize: gs, perLayer: key !== 'classifier' });
    }
    return `${matmulOf(key)}(${out}, ${matmulArgs(key)});`;
  };
  /** xq, xm ← the vector `input` (its length: the columns of the matrix `key` it is multiplied by) quantized. */
  const quantizeFor = (input: Vector, key: Matrix): string => `${quantize(matrices[key].cols)}(s.xq, s.xm, ${cVector(input)});`;
  const rmsnorm = kernels.use('rmsnormInt', { size: c.dim });
  const residual = kernels.use('residualAddInt', { n: c.dim });
  const kvMul = c.nHeads / c.nKvHeads;

  // attention: each part of the key/value heads in its own row of att (the plan has one per thread)
  const attParts = buffer(plan, 'att').count / plan.seqLen;
  const attentionAll = kernels.use('attentionInt', { nHeads: c.nHeads, headSize, kvDim, kvMul });
  /** The attention kernel's arguments up to the cache offsets, for the query heads from `head` on (a C expression, or '' for all). */
  const attentionArgs = (head: string, att: string): string => {
    const at = (n: string) => (head ? ` + ${head}${n}` : '');
    return `s.xb${at(' * HEAD_SIZE')}, s.q${at(' * HEAD_SIZE')}, s.qq${at(' * HEAD_SIZE')}, s.qm${at('')}, s.key_cache, s.key_scale, s.value_cache, s.value_scale, w.kv_scale_table, ${att}, w.exp_table`;
  };
  const attentionWrapper = (): string => {
    const heads = kernels.use('attentionInt', { headSize, kvDim, kvMul });
    return `typedef struct {
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
        ${heads}(${attentionArgs('first * KV_MUL', 's.att + p * SEQ_LEN')},
            a->layer_offset + first * HEAD_SIZE, a->layer_scales + first, a->pos, count * KV_MUL);
    }
}

/* Multihead attention over the layer's cache into xb, the heads split over the threads. */
static void multihead_attention(int layer_offset, int layer_scales, int pos) {
    if (!parallel_worth((pos + 1) * 2 * DIM)) {
        ${attentionAll}(${attentionArgs('', 's.att')}, layer_offset, layer_scales, pos);
        return;
    }
    AttentionIntJob job = {layer_offset, layer_scales, pos};
    parallel_rows(attention_rows, &job, ${attParts});
}
`;
  };

  /**
   * The feed-forward's first half as one job, `ffn_hidden(hb, hb2, l)`: each thread computes its
   * rows of W_gate · x and W_up · x, then SwiGLU on them (which needs nothing from the other rows).
   */
  const ffnHiddenWrapper = (gate: Matrix, up: Matrix): string => {
    const w1 = matmulOf(gate);
    const w3 = matmulOf(up);
    return `typedef struct {
    MatmulQ8IntJob gate; /* hb = W1 · x */
    MatmulQ8IntJob up;   /* hb2 = W3 · x */
} FfnHiddenIntJob;

static void ffn_hidden_rows(const void* job, int start, int end) {
    const FfnHiddenIntJob* f = job;
    ${w1}_rows(&f->gate, start, end);
    ${w3}_rows(&f->up, start, end);
    ${kernels.use('swigluInt')}(f->gate.xout + start, f->up.xout + start, w.exp_table, end - start);
}

/* hb = silu(W1 · x) * (W3 · x) (layer l, x quantized in xq, xm), the hidden rows split over the threads */
static void ffn_hidden(int32_t* hb, int32_t* hb2, int l) {
    if (!parallel_worth(2 * HIDDEN_DIM * DIM)) {
        ${matmul('hb', gate)}
        ${matmul('hb2', up)}
        ${kernels.use('swigluInt', { hiddenDim: c.hiddenDim })}(hb, hb2, w.exp_table);
        return;
    }
    FfnHiddenIntJob job = {{hb, ${matmulArgs(gate)}}, {hb2, ${matmulArgs(up)}}};
    parallel_rows(ffn_hidden_rows, &job, HIDDEN_DIM);
}
`;
  };

  /** One step of the forward pass (src/engine/forward-steps.ts) in C. */
  const writeStep = (step: Step, indent: string): string => {
    const lines = (...list: string[]) => list.join(`\n${indent}`);
    switch (step.op) {
      case 'embed': {
        const embed = kernels.use('embedQ8Int', { dim: c.dim, groupSize: gs, scaleShift: model.tokenEmbedding.scaleShift });
        return `${embed}(x, w.token_embedding_table, w.token_embedding_table_scales, token);`;
      }
      case 'rmsnorm':
        return `${rmsnorm}(${cVector(step.out)}, ${cVector(step.input)}, ${cNormWeight(step.weight)});`;
      case 'matmuls':
        // the input quantized once for all the step's matrices
        return lines(quantizeFor(step.input, step.products[0].weight), ...step.products.map((p) => matmul(cVector(p.out), p.weight)));
      case 'rope':
        return `${kernels.use('ropeInt', { dim: c.dim, kvDim, headSize })}(s.q, ${cVector(step.k)}, w.rope_cos, w.rope_sin, pos);`;
      case 'storeKv':
        return `${kernels.use('storeKvInt', { kvDim, headSize })}(s.key_cache, s.key_scale, s.value_cache, s.value_scale, s.k, s.v, w.kv_scale_table, loff + pos * KV_DIM, soff + pos * N_KV_HEADS);`;
      case 'attention':
        // on one thread (one row of att), the kernel over all the heads; else split by heads
        if (attParts === 1) return `${attentionAll}(${attentionArgs('', 's.att')}, loff, soff, pos);`;
        wrappers.set('multihead_attention', attentionWrapper());
        return 'multihead_attention(loff, soff, pos);';
      case 'residual':
        return `${residual}(x, ${cVector(step.input)});`;
      case 'gatedFfn':
        if (streamed(step.gate.weight) || streamed(step.up.weight)) {
          // streamed matrices go through the ring in order, on core 0: one after the other, then SwiGLU
          const gate = cVector(step.gate.out);
          const up = cVector(step.up.out);
          return lines(
            quantizeFor(step.input, step.gate.weight),
            matmul(gate, step.gate.weight),
            matmul(up, step.up.weight),
            `${kernels.use('swigluInt', { hiddenDim: c.hiddenDim })}(${gate}, ${up}, w.exp_table);`,
          );
        }
        wrappers.set('ffn_hidden', ffnHiddenWrapper(step.gate.weight, step.up.weight));
        return lines(quantizeFor(step.input, step.gate.weight), `ffn_hidden(${cVector(step.gate.out)}, ${cVector(step.up.out)}, l);`);
      case 'logitsToFloat':
        return `${kernels.use('fixedToFloat', { n: c.vocabSize })}(s.logits, s.logits_fixed);`;
      default:
        throw unsupportedStep('the integer forward.c', step);
    }
  };

  const body = `${forwardFunction(forwardSteps('integer'), writeStep, { xType: 'int32_t', scaleOffsets: true, returns: 's.logits' })}

/* integer mode samples the Q16.16 logits (src/kernels/sampling-int.ts); greedy the float32 ones */
int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state) {
    return ${kernels.use('sampleNextFixed')}(logits, s.logits_fixed, VOCAB_SIZE, temperature, topp, order, rng_state, w.exp_table);
}`;

  // the stream's table once forward() has taken its segments (WeightStream.matmul records them)
  const streamTable = stream ? `#include "weight_stream.h"\n\n${stream.table(c.nLayers)}\n` : '';
  const main = `${streamTable}void forward_init(int threads) {
${copyWeightsToSram(plan)}${stream?.init() ?? ''}    parallel_init(threads);
}

${body}`;
  const parallel = `typedef struct {
    int32_t* xout;
    const int8_t* xq;
    const int32_t* xm;
    const int8_t* wq;
    const int16_t* ws;
} MatmulQ8IntJob;

${[...wrappers.values()].join('\n')}`;
  return forwardFile(forwardPrologue(plan, header, 'The activations (Q16.16) and the int8 KV cache'), main.trim(), parallel);
}
