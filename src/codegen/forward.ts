/**
 * forward.c: the transformer's forward pass for one model and plan, written to read like
 * llama2.c's run.c (`TransformerWeights`, `RunState`, `forward`), with every shape a constant
 * from model.h, the weights read in place from the linked-in blob and the state in static arrays.
 * It calls the kernels of kernels.h, specialized for the model's shapes. forward() is the steps of
 * src/engine/forward-steps.ts, each written as C (the reference engine walks the same list).
 */
import { forwardSteps, unsupportedStep, type Matrix, type Step } from '../engine/forward-steps.js';
import type { Plan } from '../plan/plan.js';
import { buffer } from '../plan/plan.js';
import { C_ELEMENT } from './ctypes.js';
import { FloatParallel } from './forward-parallel.js';
import { cacheNames, cNormWeight, cVector, forwardFile, forwardFunction } from './forward-steps-c.js';
import type { KernelSet } from './kernel-set.js';

/**
 * forward.c for float arithmetic: llama2.c's `forward` for this model and plan, its weights f32,
 * Q8_0 or Q4_0 as the plan says (quantized matrices get x quantized once per use, as runq.c),
 * every shape a constant of model.h, weights read in place from the linked-in blob (or the plan's
 * SRAM copies) and the state in static arrays at the plan's offsets; forward() walks
 * forwardSteps('float'). The matmuls are wrappers over kernels specialized for their shapes, split
 * by rows over parallel.h's threads (./forward-parallel.ts; defined after forward(), in the order of
 * forwardFile). Requests its kernels from `kernels`, whose emit() gives the matching kernels.h;
 * returns the C text, starting with `header`.
 */
export function emitForward(plan: Plan, kernels: KernelSet, header: string): string {
  const c = plan.config;
  const gs = plan.groupSize ?? 0;
  const headSize = c.dim / c.nHeads;
  const kvDim = (c.dim * c.nKvHeads) / c.nHeads;

  const embedding = buffer(plan, 'token_embedding_table').matrix ?? 'f32';
  const embed =
    embedding === 'f32'
      ? `${kernels.use('embedF32', { dim: c.dim })}(x, w.token_embedding_table, token);`
      : `${kernels.use(embedding === 'q8_0' ? 'embedQ8' : 'embedQ4', { dim: c.dim, groupSize: gs })}(x, w.token_embedding_table, w.token_embedding_table_scales, token);`;
  const rmsnorm = kernels.use('rmsnorm', { size: c.dim });
  const rope = kernels.use('rope', { dim: c.dim, kvDim, headSize });
  const parallel = new FloatParallel(plan, kernels);
  const residual = kernels.use('residualAdd', { n: c.dim });

  const quantizers = new Map<number, string>();
  const quantize = (n: number) => {
    if (!quantizers.has(n)) quantizers.set(n, kernels.use('quantizeQ8', { n, groupSize: gs }));
    return quantizers.get(n)!;
  };
  /** For a quantized matrix `key`: the line that quantizes its `input` into s.xq, s.xs (and the next line's indent). */
  const quantizeLine = (key: Matrix, input: string, indent: string): string =>
    parallel.dtypeOf(key) === 'f32' ? '' : `${quantize(parallel.colsOf(key))}(s.xq, s.xs, ${input});\n${indent}`;

  /** One step of the forward pass (src/engine/forward-steps.ts) in C. */
  const writeStep = (step: Step, indent: string): string => {
    switch (step.op) {
      case 'embed':
        return embed;
      case 'rmsnorm':
        return `${rmsnorm}(${cVector(step.out)}, ${cVector(step.input)}, ${cNormWeight(step.weight)});`;
      case 'matmuls': {
        const input = cVector(step.input);
        if (step.products.length === 1) {
          const p = step.products[0];
          const layer = p.weight === 'classifier' ? '' : 'l';
          return `${quantizeLine(p.weight, input, indent)}${parallel.matmul(p.weight)}(${cVector(p.out)}, ${parallel.args(input, p.weight, layer)});`;
        }
        const parts = step.products.map((p) => ({ out: cVector(p.out), key: p.weight }));
        const name = `matmul_${step.name ?? 'group'}`;
        const what = `${parts.map((p) => p.out.replace(/^s\./, '')).join(', ')} = ${parts.map((p) => `${p.key} · x`).join(', ')} (layer l)`;
        parallel.group(name, what, parts);
        return `${quantizeLine(parts[0].key, input, indent)}${name}(${parts.map((p) => p.out).join(', ')}, ${input}, l);`;
      }
      case 'rope':
        return `${rope}(s.q, ${cVector(step.k)}, w.rope_cos, w.rope_sin, pos);`;
      case 'attention':
        return `multihead_attention(s.xb, s.q, loff, ${cacheNames(plan).last});`;
      case 'residual':
        return `${residual}(x, ${cVector(step.input)});`;
      case 'gatedFfn': {
        parallel.ffnHidden(step.gate.weight, step.up.weight);
        const input = cVector(step.input);
        return `${quantizeLine(step.gate.weight, input, indent)}ffn_hidden(${cVector(step.gate.out)}, ${cVector(step.up.out)}, ${input}, l);`;
      }
      default:
        throw unsupportedStep('the float forward.c', step);
    }
  };
  const main = `${kernels.isGeneric ? 'int runtime_one = 1; /* shapes reach the kernels as run-time values (a generic build) */\n\n' : ''}void forward_init(int threads) {
${copyWeightsToSram(plan)}    parallel_init(threads);
}

${forwardFunction(forwardSteps('float'), writeStep, { xType: 'float', returns: 's.logits', boundedCache: plan.kvWindow !== undefined })}

int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state) {
    return ${kernels.use('sampleNext')}(logits, VOCAB_SIZE, temperature, topp, order, rng_state);
}`;
  return forwardFile(forwardPrologue(plan, header, 'The activations and the KV cache'), main, parallel.text());
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
