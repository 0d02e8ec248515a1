/**
 * forward.c for an integer-mode plan (doc/kernels.md, "Integer mode"): the same structure as
 * llama2.c's `forward`, computing what src/engine/transformer-int.ts computes, with Q16.16
 * activations, an int8 KV cache and the fixed-point weights of src/quant/fixed-point.ts. The
 * matmuls split their rows over parallel.h's threads (the RP2040's second core with --threads 2).
 */
import type { Plan } from '../plan/plan.js';
import type { FixedModel } from '../quant/fixed-point.js';
import { copyWeightsToSram, forwardPrologue } from './forward.js';
import type { KernelSet } from './kernel-set.js';

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
    ${rowsKernel}(m->xout + start, m->xq, m->xm, m->wq + start * ${cols}, m->ws + start * ${Math.ceil(cols / gs)}, end - start);
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
  /** `out = W · (xq, xm)`, W the layer's (or the model's) matrix `name`. */
  const matmul = (out: string, name: string, rows: number, cols: number, shift: number, perLayer: boolean) => {
    const fn = matmulFor(rows, cols, shift);
    const values = perLayer ? ` + l * ${rows * cols}` : '';
    const scales = perLayer ? ` + l * ${rows * Math.ceil(cols / gs)}` : '';
    return `${fn}(${out}, s.xq, s.xm, w.${name}${values}, w.${name}_scales${scales});`;
  };
  const classifier = plan.sharedClassifier ? 'token_embedding_table' : 'wcls';
  const rmsnorm = kernels.use('rmsnormInt', { size: c.dim });
  const residual = kernels.use('residualAddInt', { n: c.dim });

  const body = `float* forward(int token, int pos) {
    int32_t* x = s.x;

    /* copy the token embedding into x (Q16.16) */
    ${kernels.use('embedQ8Int', { dim: c.dim, groupSize: gs, scaleShift: model.tokenEmbedding.scaleShift })}(x, w.token_embedding_table, w.token_embedding_table_scales, token);

    /* forward all the layers */
    for (int l = 0; l < N_LAYERS; l++) {
        /* attention rmsnorm, and xb quantized once for the three projections */
        ${rmsnorm}(s.xb, x, w.rms_att_weight + l * DIM);
        ${quantize(c.dim)}(s.xq, s.xm, s.xb);

        /* qkv matmuls for this position */
        ${matmul('s.q', 'wq', c.dim, c.dim, layer.wq.scaleShift, true)}
        ${matmul('s.k', 'wk', kvDim, c.dim, layer.wk.scaleShift, true)}
        ${matmul('s.v', 'wv', kvDim, c.dim, layer.wv.scaleShift, true)}

        /* RoPE relative positional encoding: rotate q and k in each head */
        ${kernels.use('ropeInt', { dim: c.dim, kvDim, headSize })}(s.q, s.k, w.rope_cos, w.rope_sin, pos);

        /* k and v into the int8 kv cache at this position */
        int loff = l * SEQ_LEN * KV_DIM;      /* kv cache layer offset */
        int soff = l * SEQ_LEN * N_KV_HEADS;  /* and of its scale codes */
        ${kernels.use('storeKvInt', { kvDim, headSize })}(s.key_cache, s.key_scale, s.value_cache, s.value_scale, s.k, s.v, w.kv_scale_table, loff + pos * KV_DIM, soff + pos * N_KV_HEADS);

        /* multihead attention over the cache, into xb */
        ${kernels.use('attentionInt', { nHeads: c.nHeads, headSize, kvDim, kvMul: c.nHeads / c.nKvHeads })}(s.xb, s.q, s.qq, s.qm, s.key_cache, s.key_scale, s.value_cache, s.value_scale, w.kv_scale_table, s.att, w.exp_table, loff, soff, pos);

        /* final matmul to get the output of the attention, then the residual connection */
        ${quantize(c.dim)}(s.xq, s.xm, s.xb);
        ${matmul('s.xb2', 'wo', c.dim, c.dim, layer.wo.scaleShift, true)}
        ${residual}(x, s.xb2);

        /* ffn rmsnorm */
        ${rmsnorm}(s.xb, x, w.rms_ffn_weight + l * DIM);
        ${quantize(c.dim)}(s.xq, s.xm, s.xb);

        /* w2(silu(w1(x)) * w3(x)) */
        ${matmul('s.hb', 'w1', c.hiddenDim, c.dim, layer.w1.scaleShift, true)}
        ${matmul('s.hb2', 'w3', c.hiddenDim, c.dim, layer.w3.scaleShift, true)}
        ${kernels.use('swigluInt', { hiddenDim: c.hiddenDim })}(s.hb, s.hb2, w.exp_table);
        ${quantize(c.hiddenDim)}(s.xq, s.xm, s.hb);
        ${matmul('s.xb', 'w2', c.dim, c.hiddenDim, layer.w2.scaleShift, true)}

        /* residual connection */
        ${residual}(x, s.xb);
    }

    /* final rmsnorm */
    ${rmsnorm}(x, x, w.rms_final_weight);

    /* classifier into logits, then float32 for the sampler */
    ${quantize(c.dim)}(s.xq, s.xm, x);
    ${matmul('s.logits_fixed', classifier, c.vocabSize, c.dim, model.classifier.scaleShift, false)}
    ${kernels.use('fixedToFloat', { n: c.vocabSize })}(s.logits, s.logits_fixed);
    return s.logits;
}

/* integer mode samples the Q16.16 logits (src/kernels/sampling-int.ts); greedy the float32 ones */
int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state) {
    return ${kernels.use('sampleNextFixed')}(logits, s.logits_fixed, VOCAB_SIZE, temperature, topp, order, rng_state, w.exp_table);
}`;

  return `${forwardPrologue(plan, header, 'The activations (Q16.16) and the int8 KV cache')}

typedef struct {
    int32_t* xout;
    const int8_t* xq;
    const int32_t* xm;
    const int8_t* wq;
    const int16_t* ws;
} MatmulQ8IntJob;

${[...wrappers.values()].join('\n')}
void forward_init(int threads) {
${copyWeightsToSram(plan)}    parallel_init(threads);
}

${body}
`;
}
