/**
 * What a scheme's weights take, and whether they fit each known target (targets/*.json).
 *
 * Two numbers per scheme:
 * - `weightBytes`: the model's weights in their precision, the sum of every matrix (values and
 *   scales; a shared classifier once) and every norm;
 * - `blobBytes`: the weights blob the memory plan (src/plan/plan.ts) lays out for the generated
 *   program: the same tensors, the RoPE tables, each buffer aligned to 64 bytes.
 *
 * The verdict for a target compares what the plan puts in the memory that holds the weights (the
 * blob, plus the run state when that memory holds it too, as on `host`) with its capacity. Every
 * scheme is planned by `makePlan` itself, with the scheme's group size.
 */
import type { Model } from '../checkpoint/model.js';
import { defaultArithmetic, makePlan, type Plan } from '../plan/plan.js';
import type { Target } from '../plan/target.js';
import type { QuantScheme } from '../quant/schemes.js';
import { tensorBytes } from '../quant/metrics.js';
import { formatBytes } from '../util/progress.js';

/** Bytes of the model's weights in their own precision: matrices (a shared classifier counted once) and norms. */
export function weightBytesOf(model: Model): number {
  let bytes = tensorBytes(model.tokenEmbedding) + model.rmsFinal.length * 4;
  if (!model.sharedClassifier) bytes += tensorBytes(model.classifier);
  for (const layer of model.layers) {
    bytes += (layer.rmsAtt.length + layer.rmsFfn.length) * 4;
    for (const t of [layer.wq, layer.wk, layer.wv, layer.wo, layer.w1, layer.w2, layer.w3]) bytes += tensorBytes(t);
  }
  return bytes;
}

export interface StateCheck {
  memory: string;
  /** The run state (KV cache at the model's full seq_len, activations) the plan puts in that memory. */
  needed: number;
  capacity: number | null;
  fits: boolean;
}

export interface TargetVerdict {
  target: string;
  /** The memory that holds the weights. */
  memory: string;
  memoryKind: string;
  /** Its capacity in bytes; null when only the machine limits it. */
  capacity: number | null;
  /** Bytes the plan puts in that memory: the weights blob, plus the run state when it lives there too. */
  needed: number;
  /** True when the run state shares the weights' memory and is counted in `needed`. */
  includesState: boolean;
  fits: boolean;
  /** capacity − needed when it fits and has a capacity, else null. */
  spare: number | null;
  /** One line: "fits host with no fixed limit", "fits rp2040 flash with 1.2 MiB to spare", "does not fit ...". */
  verdict: string;
  /** The run state, when it lives in another memory (what the plan puts there: on the RP2040 Q8_0 runs the integer kernels, so it differs by scheme). */
  state: StateCheck | null;
}

export interface SchemeSizes {
  weightBytes: number;
  blobBytes: number;
  targets: TargetVerdict[];
}

/** The memory plan for a scheme's model on `target` (the group size only for the quantized schemes). */
function planFor(target: Target, model: Model, scheme: QuantScheme, groupSize: number | undefined): Plan {
  return makePlan(target, model.config, {
    weights: scheme,
    groupSize: scheme === 'f32' ? undefined : groupSize,
    sharedClassifier: model.sharedClassifier,
    // as `build` would: the target's arithmetic where the weights allow it (rp2040: integer for Q8_0, and Q4_0 of even shapes)
    arithmetic: defaultArithmetic(target, model.config, scheme, groupSize),
  });
}

/** Sizes of a scheme's model and its verdict on every target. */
export function schemeSizes(model: Model, scheme: QuantScheme, groupSize: number | undefined, targets: readonly Target[]): SchemeSizes {
  let blobBytes: number | undefined;
  const verdicts = targets.map((target): TargetVerdict => {
    const plan = planFor(target, model, scheme, groupSize);
    blobBytes ??= plan.weightsBytes;
    const weightsMemory = target.placement.weights;
    const use = plan.memories.find((m) => m.memory.name === weightsMemory)!;
    const needed = use.used;
    const includesState = target.placement.state === weightsMemory;
    const capacity = use.memory.bytes;
    const fits = capacity === null || needed <= capacity;
    const spare = capacity !== null && fits ? capacity - needed : null;
    let state: StateCheck | null = null;
    if (!includesState) {
      const stateUse = plan.memories.find((m) => m.memory.name === target.placement.state)!;
      state = {
        memory: stateUse.memory.name,
        needed: stateUse.used,
        capacity: stateUse.memory.bytes,
        fits: stateUse.memory.bytes === null || stateUse.used <= stateUse.memory.bytes,
      };
    }
    return {
      target: target.name,
      memory: weightsMemory,
      memoryKind: use.memory.kind,
      capacity,
      needed,
      includesState,
      fits,
      spare,
      verdict: verdictText(target.name, weightsMemory, capacity, needed, includesState),
      state,
    };
  });
  // with no target at all, the blob still has a size: plan on a machine without limits
  blobBytes ??= blobBytesWithoutTarget(model, scheme, groupSize);
  return { weightBytes: weightBytesOf(model), blobBytes, targets: verdicts };
}

function blobBytesWithoutTarget(model: Model, scheme: QuantScheme, groupSize: number | undefined): number {
  const unlimited: Target = {
    name: 'unlimited',
    description: 'no limits',
    cpu: { arch: 'none', cores: 0, fpu: true },
    memories: [{ name: 'ram', kind: 'dram', bytes: null }],
    placement: { weights: 'ram', state: 'ram' },
    toolchain: { cc: '', cflags: [], ldflags: [] },
    output: 'executable',
    threads: false,
  };
  return planFor(unlimited, model, scheme, groupSize).weightsBytes;
}

/** "fits host with no fixed limit", "fits rp2040 flash with 1.2 MiB to spare", "does not fit rp2040 flash: needs X, has Y". */
export function verdictText(target: string, memory: string, capacity: number | null, needed: number, includesState: boolean): string {
  const what = includesState ? 'weights and run state' : 'weights';
  if (capacity === null) return `fits ${target} with no fixed limit (${what}: ${formatBytes(needed)} of ${memory})`;
  if (needed <= capacity)
    return `fits ${target} ${memory} with ${formatBytes(capacity - needed)} to spare (${what}: ${formatBytes(needed)} of ${formatBytes(capacity)})`;
  return `does not fit ${target} ${memory}: needs ${formatBytes(needed)} (${what}), has ${formatBytes(capacity)}`;
}
