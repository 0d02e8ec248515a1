/**
 * forward.c: the transformer's forward pass for one model and plan, written to read like
 * llama2.c's run.c (`TransformerWeights`, `RunState`, `forward`), with every shape a constant
 * from model.h, the weights read in place from the linked-in blob and the state in static arrays
 * (`forward_weights`, `forward_state`). It calls the kernels of kernels.h, specialized for the
 * model's shapes, and the thread-pool wrappers of forward_parallel.c (which has its own
 * kernels_parallel.h). forward() is the steps of src/engine/forward-steps.ts, each written as C
 * (the reference engine walks the same list).
 */
import { forwardSteps, unsupportedStep, type Matrix, type Step } from '../engine/forward-steps.js';
import type { Plan } from '../plan/plan.js';
import { buffer } from '../plan/plan.js';
import { C_ELEMENT } from './ctypes.js';
import { FloatParallel } from './forward-parallel.js';
import {
  cacheNames,
  cNormWeight,
  cVector,
  forwardFunction,
  forwardSources,
  type ForwardKernels,
  type ForwardSources,
} from './forward-steps-c.js';

/**
 * forward.c for float arithmetic: llama2.c's `forward` for this model and plan, its weights f32,
 * Q8_0 or Q4_0 as the plan says (quantized matrices get x quantized once per use, as runq.c),
 * every shape a constant of model.h, weights read in place from the linked-in blob (or the plan's
 * SRAM copies) and the state in static arrays at the plan's offsets; forward() walks
 * forwardSteps('float'). The matmuls are wrappers over kernels specialized for their shapes, split
 * by rows over parallel.h's threads (./forward-parallel.ts: forward_parallel.c). Requests each
 * file's kernels from its set of `sets`, whose emit() gives the matching kernels.h and
 * kernels_parallel.h; returns the C of both files, each starting with its header of `headers`.
 */
export function emitForward(plan: Plan, sets: ForwardKernels, headers: { forward: string; parallel: string }): ForwardSources {
  const kernels = sets.forward;
  const c = plan.config;
  const gs = plan.groupSize ?? 0;
  const headSize = c.dim / c.nHeads;
  const kvDim = (c.dim * c.nKvHeads) / c.nHeads;

  const embedding = buffer(plan, 'token_embedding_table').matrix ?? 'f32';
  const embed =
    embedding === 'f32'
      ? `${kernels.use('embedF32', { dim: c.dim })}(x, forward_weights.token_embedding_table, token);`
      : `${kernels.use(embedding === 'q8_0' ? 'embedQ8' : 'embedQ4', { dim: c.dim, groupSize: gs })}(x, forward_weights.token_embedding_table, forward_weights.token_embedding_table_scales, token);`;
  const rmsnorm = kernels.use('rmsnorm', { size: c.dim });
  const rope = kernels.use('rope', { dim: c.dim, kvDim, headSize });
  const parallel = new FloatParallel(plan, sets.parallel);
  const residual = kernels.use('residualAdd', { n: c.dim });

  const quantizers = new Map<number, string>();
  const quantize = (n: number) => {
    if (!quantizers.has(n)) quantizers.set(n, kernels.use('quantizeQ8', { n, groupSize: gs }));
    return quantizers.get(n)!;
  };
  /** For a quantized matrix `key`: the line that quantizes its `input` into forward_state.xq, forward_state.xs (and the next line's indent). */
  const quantizeLine = (key: Matrix, input: string, indent: string): string =>
    parallel.dtypeOf(key) === 'f32' ? '' : `${quantize(parallel.colsOf(key))}(forward_state.xq, forward_state.xs, ${input});\n${indent}`;

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
        const what = `${parts.map((p) => p.out.replace(/^forward_state\./, '')).join(', ')} = ${parts.map((p) => `${p.key} · x`).join(', ')} (layer l)`;
        parallel.group(name, what, parts);
        return `${quantizeLine(parts[0].key, input, indent)}${name}(${parts.map((p) => p.out).join(', ')}, ${input}, l);`;
      }
      case 'rope':
        return `${rope}(forward_state.q, ${cVector(step.k)}, forward_weights.rope_cos, forward_weights.rope_sin, pos);`;
      case 'attention':
        return `multihead_attention(forward_state.xb, forward_state.q, loff, ${cacheNames(plan).last});`;
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

${forwardFunction(forwardSteps('float'), writeStep, { xType: 'float', returns: 'forward_state.logits', boundedCache: plan.kvWindow !== undefined })}

int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state) {
    return ${kernels.use('sampleNext')}(logits, VOCAB_SIZE, temperature, topp, order, rng_state);
}`;
  return forwardSources(headers, forwardTypes(plan, 'The activations and the KV cache'), forwardDefinitions(plan), main, parallel.parts());
}

/**
 * The types both files of the forward pass declare: RunState (the state's static arrays, at the
 * plan's offsets) and TransformerWeights (pointers into the linked-in weights blob).
 */
export function forwardTypes(plan: Plan, stateWhat: string): string {
  const weights = plan.buffers.filter((b) => b.role === 'weights');
  const state = plan.buffers.filter((b) => b.role === 'state' && !b.program);
  const weightFields = weights.map((b) => `    const ${C_ELEMENT[b.element]}* ${b.name}; /* ${b.description} */`);
  const stateFields = state.map((b) => `    _Alignas(${b.align}) ${C_ELEMENT[b.element]} ${b.name}[${b.count}]; /* ${b.description} */`);
  return `/* ${stateWhat}: static storage, sized by the plan (no malloc). */
typedef struct {
${stateFields.join('\n')}
} RunState;

typedef struct {
${weightFields.join('\n')}
} TransformerWeights;`;
}

/**
 * forward.c's state and weights (forward_parallel.c's wrappers read them too): the static
 * RunState, and TransformerWeights pointing into the blob (or at the state's SRAM copies).
 */
export function forwardDefinitions(plan: Plan): string {
  const weights = plan.buffers.filter((b) => b.role === 'weights');
  const state = plan.buffers.filter((b) => b.role === 'state' && !b.program);
  const copies = new Map(state.filter((b) => b.copyOf).map((b) => [b.copyOf!, b.name]));
  const weightInit = weights.map((b) =>
    copies.has(b.name)
      ? `    .${b.name} = forward_state.${copies.get(b.name)}, /* in SRAM: forward_init copies it from the blob */`
      : `    .${b.name} = (const ${C_ELEMENT[b.element]}*)(model_weights + OFFSET_${b.name.toUpperCase()}),`,
  );
  return `/* The weights, linked in from weights.bin by blobs.S; the offsets are in model.h. */
extern const unsigned char model_weights[];

RunState forward_state;

const TransformerWeights forward_weights = {
${weightInit.join('\n')}
};`;
}

/** The first line of forward_parallel.c's comment, after forward.c's (`what`, the build's generated() header). */
export const PARALLEL_WHAT =
  "The thread-pool wrappers of forward.c's forward pass: its matmuls and attention split by rows over parallel.h's threads.";

/**
 * forward_init's lines that fill the plan's SRAM copies of weights from the blob in flash (none
 * on most targets), so that the kernels then read them at SRAM speed.
 */
export function copyWeightsToSram(plan: Plan): string {
  return plan.buffers
    .filter((b) => b.copyOf)
    .map(
      (b) =>
        `    memcpy(forward_state.${b.name}, model_weights + OFFSET_${b.copyOf!.toUpperCase()}, sizeof forward_state.${b.name}); /* ${b.bytes} bytes */\n`,
    )
    .join('');
}
