/**
 * The memory plan: every buffer the generated program needs (each weight tensor and its scales,
 * the RoPE tables, the KV cache, the activations, the logits), its size, alignment, memory and
 * offset, and the totals per memory. It is computed and checked before any C is written, so that a
 * model that does not fit fails the build, never the device, with advice on what would fit.
 */
import type { Config, WeightDType } from '../checkpoint/model.js';
import { headSize, kvDim } from '../checkpoint/model.js';
import { fitsQ4Pairs } from '../quant/fixed-point.js';
import { describeScheme, precisionFor, type MatrixRole, type QuantScheme } from '../quant/schemes.js';
import { UserError } from '../util/errors.js';
import { CLASSIFIER_BLOCK, SAMPLER_CANDIDATES, type ClassifierLayout } from '../engine/forward-steps.js';
import { TALLY_SIZE } from '../kernels/sampling-blocks-int.js';
import { describeKvWindow, kvCacheRows, type KvWindow } from '../engine/kv-window.js';
import { formatBytes } from '../util/progress.js';
import type { Memory, Target } from './target.js';

export interface PlanOptions {
  weights: QuantScheme;
  /** Group size of the quantized matrices (required unless fp32). */
  groupSize?: number;
  /** Context length (and KV cache length); default and maximum: the model's. */
  seqLen?: number;
  /**
   * A bounded KV cache (src/engine/kv-window.ts): SINKS + WINDOW rows per layer whatever the
   * context, an approximation once the text is longer. Default: a row per position (exact).
   */
  kvWindow?: KvWindow;
  sharedClassifier: boolean;
  /** State the program keeps besides the model's (e.g. the tokenizer's merge buffer), in bytes. */
  extraState?: { name: string; bytes: number; description: string }[];
  /**
   * Constant tables the program reads in place beside the weights, outside the weights blob (a
   * firmware's tokenizer: src/codegen/tokenizer-tables.ts), in bytes: they take the weights'
   * memory (flash) but no SRAM.
   */
  tables?: { name: string; bytes: number; description: string }[];
  /**
   * The kernels' arithmetic: 'float' (llama2.c's float32, the default) or 'integer' (Q16.16
   * activations, an int8 KV cache, fixed-point scales: for cores without an FPU; Q8_0, Q4_0 or
   * mixed weights, Q4_0 with an even group size).
   */
  arithmetic?: Arithmetic;
  /**
   * On a target whose weights are read in place from flash (XIP) and whose state is in SRAM: copy
   * as many of the weight tensors as the SRAM left over by the state holds into SRAM at boot, so
   * that they are read without flash wait states (default: true). Ignored elsewhere.
   */
  sramWeights?: boolean;
  /**
   * Code that runs from the state's SRAM (the firmware's forward pass and kernels, copied at
   * boot): its size, measured from the compiled objects, and what it is. Taken before the
   * weights' SRAM copies, which it pays more than (doc/rp2040.md).
   */
  sramCode?: { bytes: number; description: string };
  /**
   * Integer mode on a flash-XIP target with SRAM state (the RP2040): stream the weight matrices
   * not copied to SRAM from flash by DMA into a ring of STREAM_RING_BYTES in SRAM (`weight_ring`,
   * taken before the copies) while the core computes, instead of reading them through the XIP
   * cache (doc/rp2040.md, "Streaming the weights").
   */
  streamWeights?: boolean;
  /**
   * The most threads the program splits its work over (default 1). Integer arithmetic's attention
   * then keeps a row of scores (att) for each part of the heads, so that the parts run at once
   * (attentionParts); float arithmetic's att already has a row per head.
   */
  threads?: number;
}

/**
 * The SRAM ring the streamed weights pass through (PlanOptions.streamWeights): deep enough that
 * the stream keeps going through a layer's attention (its 10 cycles a byte with the quad boot2
 * against about 5 for the core's int8 dot products), while every KiB of it is a KiB of weights
 * that is not copied to SRAM and so streamed every token.
 */
export const STREAM_RING_BYTES = 16 * 1024;

export type Arithmetic = 'float' | 'integer';
export const ARITHMETICS: readonly Arithmetic[] = ['float', 'integer'];

export type ElementType = 'f32' | 'i8' | 'u8' | 'i16' | 'i32' | 'u64';
const ELEMENT_BYTES: Record<ElementType, number> = { f32: 4, i8: 1, u8: 1, i16: 2, i32: 4, u64: 8 };

export interface PlannedBuffer {
  /** The C name of the buffer (a field of TransformerWeights or RunState). */
  name: string;
  /**
   * code: not data but program text run from this memory (PlanOptions.sramCode); tables: constants
   * read in place from the weights' memory, outside the weights blob (PlanOptions.tables)
   */
  role: 'weights' | 'state' | 'code' | 'tables';
  element: ElementType;
  count: number;
  bytes: number;
  align: number;
  memory: string;
  /** For a weight matrix's values (and its scales): how the matrix is stored. */
  matrix?: WeightDType;
  /** Kept by the program around the model (main.c, the tokenizer), not by forward.c's RunState. */
  program?: boolean;
  /** A state buffer that is an SRAM copy of this weight buffer, filled once at boot. */
  copyOf?: string;
  /** Offset within its memory's region (for weights: within the weights blob). */
  offset: number;
  description: string;
}

export interface MemoryUse {
  memory: Memory;
  used: number;
  buffers: PlannedBuffer[];
}

export interface Plan {
  target: string;
  config: Config;
  weights: QuantScheme;
  groupSize?: number;
  arithmetic: Arithmetic;
  seqLen: number;
  /** The bounded KV cache, when asked for (PlanOptions.kvWindow). */
  kvWindow?: KvWindow;
  /** The KV cache's rows per layer (and the attention scores' per head): seqLen, or SINKS + WINDOW. */
  cacheRows: number;
  sharedClassifier: boolean;
  /**
   * How the classifier's logits are kept: 'whole' (a vector of vocab_size, as llama2.c), or
   * 'blocks' (integer mode with a vocabulary whose vectors would take more than half the state's
   * memory: CLASSIFIER_BLOCK rows at a time, each folded into the sampler's running argmax, or into
   * top-p's SAMPLER_CANDIDATES candidates: src/kernels/sampling-blocks-int.ts).
   */
  classifier: ClassifierLayout;
  buffers: PlannedBuffer[];
  memories: MemoryUse[];
  /** Size of the weights blob (all weight buffers, aligned). */
  weightsBytes: number;
  stateBytes: number;
  fits: boolean;
  /** One sentence per memory that overflows, with what would make it fit. */
  problems: string[];
}

/**
 * The arithmetic a build for `target` uses when not told (build, and report's sizes, which plan
 * as build would): the target's default when it suits the weights (the integer kernels compute
 * on quantized weights, Q4_0 only in the shapes q4ShapeProblem accepts), else float.
 */
export function defaultArithmetic(
  target: Target,
  config: Config,
  weights: QuantScheme,
  groupSize: number | undefined,
): 'float' | 'integer' {
  const suitsInteger = weights !== 'f32' && q4ShapeProblem(config, weights, groupSize ?? 0) === undefined;
  return target.defaults?.arithmetic === 'integer' && suitsInteger ? 'integer' : 'float';
}

/** Flash sizes of microcontroller boards, in MB, smallest first (the RP2040's XIP window ends at 16 MB). */
const BOARD_FLASH_MB = [4, 8, 16];

/**
 * Why the integer kernels cannot take `weights` for this model's shapes, or undefined when they can:
 * their Q4_0 matmul reads two rows and 16 columns at a time (src/kernels/matmul-q4-int.ts), so every
 * Q4_0 matrix needs an even number of rows, and its columns and the group size multiples of 16.
 */
export function q4ShapeProblem(config: Config, weights: QuantScheme, groupSize: number): string | undefined {
  if (weights === 'q8_0' || weights === 'f32') return undefined;
  const matrices: [string, number, number, MatrixRole][] = [
    ['the token embedding', config.vocabSize, config.dim, 'embedding'],
    ['wq, wo', config.dim, config.dim, 'layer'],
    ['wk, wv', kvDim(config), config.dim, 'layer'],
    ['w1, w3', config.hiddenDim, config.dim, 'layer'],
    ['w2', config.dim, config.hiddenDim, 'layer'],
  ];
  const bad = matrices.filter(([, rows, cols, role]) => precisionFor(weights, role) === 'q4_0' && !fitsQ4Pairs({ rows, cols, groupSize }));
  if (bad.length === 0) return undefined;
  const [name, rows, cols] = bad[0];
  // only the group size can be chosen: say so when it is all that is wrong with every bad matrix
  const groupSizeHelps = bad.every(([, r, c]) => fitsQ4Pairs({ rows: r, cols: c, groupSize: 16 }));
  const advice = groupSizeHelps
    ? 'Use --group-size 16 or 32, or --quant q8_0.'
    : 'No group size helps that shape: use --arithmetic float, or --quant q8_0.';
  return (
    `the integer Q4_0 matmul reads two rows and 16 columns at a time, and ${name} is ${rows} × ${cols} in groups of ${groupSize} ` +
    `(it needs an even number of rows, and columns and a group size that are multiples of 16). ${advice}`
  );
}

/**
 * 'blocks' for an integer-mode plan whose vocabulary-sized vectors (the Q16.16 logits, their
 * float32 copy and the sampler's candidates: 12 bytes a token) would take more than half of the
 * state's memory (stories15M's 32,000 tokens on the RP2040: 375 KiB of 252 KiB), else 'whole'.
 */
export function classifierLayout(target: Target, config: Config, arithmetic: Arithmetic | undefined): ClassifierLayout {
  const state = target.memories.find((m) => m.name === target.placement.state);
  if (arithmetic !== 'integer' || !state || state.bytes === null) return 'whole';
  return 12 * config.vocabSize > state.bytes / 2 ? 'blocks' : 'whole';
}

/** Weights are aligned for SIMD loads and cache lines; state for SIMD. */
const WEIGHT_ALIGN = 64;
const STATE_ALIGN = 64;
/** Code run from SRAM: Thumb instructions and literal pools are word-aligned. */
const CODE_ALIGN = 4;

/** The number of groups of `groupSize` that cover `n` values, the last one possibly short. */
export function groupsOf(n: number, groupSize: number): number {
  return Math.ceil(n / groupSize);
}

interface BufferSpec {
  name: string;
  role: 'weights' | 'state' | 'code' | 'tables';
  element: ElementType;
  count: number;
  description: string;
  matrix?: WeightDType;
  program?: boolean;
  copyOf?: string;
}

/** The weight tensors in blob order: llama2.c's order (each kind contiguous over the layers), then the RoPE tables. */
function weightSpecs(c: Config, o: PlanOptions, seqLen: number): BufferSpec[] {
  const L = c.nLayers;
  const kv = kvDim(c);
  const specs: BufferSpec[] = [];
  // integer mode: fixed-point scales, norms (Q16.16) and tables (Q2.30), see src/quant/fixed-point.ts
  const integer = o.arithmetic === 'integer';
  const real = integer ? ('i32' as const) : ('f32' as const);
  const matrix = (name: string, rows: number, cols: number, layers: number, what: string, role: MatrixRole) => {
    const dtype = precisionFor(o.weights, role);
    if (dtype === 'f32') {
      specs.push({
        name,
        role: 'weights',
        element: 'f32',
        count: layers * rows * cols,
        description: `${what} (${shape(layers, rows, cols)})`,
        matrix: dtype,
      });
      return;
    }
    const gs = o.groupSize!;
    const values =
      dtype === 'q8_0'
        ? { element: 'i8' as const, count: layers * rows * cols, description: `${what}, int8 (${shape(layers, rows, cols)})` }
        : integer
          ? {
              // the integer kernels' row-pair words (src/kernels/matmul-q4-int.ts): 8 values of two rows per word
              element: 'i32' as const,
              count: (layers * rows * cols) / 8,
              description: `${what}, int4 in row-pair words (${shape(layers, rows / 2, cols / 4)})`,
            }
          : {
              element: 'u8' as const,
              count: layers * rows * Math.ceil(cols / 2),
              description: `${what}, int4 pairs (${shape(layers, rows, Math.ceil(cols / 2))})`,
            };
    specs.push({ name, role: 'weights', ...values, matrix: dtype });
    specs.push({
      name: `${name}_scales`,
      role: 'weights',
      element: integer ? 'i16' : 'f32',
      count: layers * rows * groupsOf(cols, gs),
      description: `${what}, scales (${shape(layers, rows, groupsOf(cols, gs))})`,
      matrix: dtype,
    });
  };
  matrix('token_embedding_table', c.vocabSize, c.dim, 1, 'token embedding', 'embedding');
  specs.push({
    name: 'rms_att_weight',
    role: 'weights',
    element: real,
    count: L * c.dim,
    description: `attention norms (${shape(L, c.dim)})`,
  });
  matrix('wq', c.dim, c.dim, L, 'query projection', 'layer');
  matrix('wk', kv, c.dim, L, 'key projection', 'layer');
  matrix('wv', kv, c.dim, L, 'value projection', 'layer');
  matrix('wo', c.dim, c.dim, L, 'attention output', 'layer');
  specs.push({
    name: 'rms_ffn_weight',
    role: 'weights',
    element: real,
    count: L * c.dim,
    description: `feed-forward norms (${shape(L, c.dim)})`,
  });
  matrix('w1', c.hiddenDim, c.dim, L, 'feed-forward gate', 'layer');
  matrix('w2', c.dim, c.hiddenDim, L, 'feed-forward down', 'layer');
  matrix('w3', c.hiddenDim, c.dim, L, 'feed-forward up', 'layer');
  specs.push({ name: 'rms_final_weight', role: 'weights', element: real, count: c.dim, description: `final norm (${c.dim})` });
  if (!o.sharedClassifier) matrix('wcls', c.vocabSize, c.dim, 1, 'classifier', 'classifier');
  const half = headSize(c) / 2;
  specs.push({
    name: 'rope_cos',
    role: 'weights',
    element: real,
    count: seqLen * half,
    description: `RoPE cosines (${shape(seqLen, half)})`,
  });
  specs.push({
    name: 'rope_sin',
    role: 'weights',
    element: real,
    count: seqLen * half,
    description: `RoPE sines (${shape(seqLen, half)})`,
  });
  if (integer) {
    specs.push({ name: 'exp_table', role: 'weights', element: 'i32', count: 65, description: 'powers of two 2^(-i/64), for e^x' });
    specs.push({ name: 'kv_scale_table', role: 'weights', element: 'i32', count: 256, description: 'KV cache scales by code, 2^(c/8)' });
  }
  return specs;
}

/**
 * The run state, as llama2.c's RunState, plus the quantized activation and the sampler's scratch;
 * the KV cache and the attention scores have `rows` rows (seq_len, or a bounded cache's SINKS + WINDOW).
 */
function stateSpecs(c: Config, o: PlanOptions, rows: number, classifier: ClassifierLayout): BufferSpec[] {
  if (o.arithmetic === 'integer') return integerStateSpecs(c, o, rows, attentionParts(c, o), classifier);
  const kv = kvDim(c);
  const specs: BufferSpec[] = [
    {
      name: 'key_cache',
      role: 'state',
      element: 'f32',
      count: c.nLayers * rows * kv,
      description: `KV cache, keys${windowNote(o)} (${shape(c.nLayers, rows, kv)})`,
    },
    {
      name: 'value_cache',
      role: 'state',
      element: 'f32',
      count: c.nLayers * rows * kv,
      description: `KV cache, values${windowNote(o)} (${shape(c.nLayers, rows, kv)})`,
    },
    { name: 'x', role: 'state', element: 'f32', count: c.dim, description: 'activation' },
    { name: 'xb', role: 'state', element: 'f32', count: c.dim, description: 'activation inside a residual branch' },
    { name: 'xb2', role: 'state', element: 'f32', count: c.dim, description: 'attention output' },
    { name: 'hb', role: 'state', element: 'f32', count: c.hiddenDim, description: 'feed-forward hidden' },
    { name: 'hb2', role: 'state', element: 'f32', count: c.hiddenDim, description: 'feed-forward hidden' },
    { name: 'q', role: 'state', element: 'f32', count: c.dim, description: 'query' },
    { name: 'att', role: 'state', element: 'f32', count: c.nHeads * rows, description: `attention scores (${shape(c.nHeads, rows)})` },
    { name: 'logits', role: 'state', element: 'f32', count: c.vocabSize, description: 'output logits' },
    { name: 'sampler_order', role: 'state', element: 'i32', count: c.vocabSize, description: 'top-p candidates', program: true },
  ];
  if (o.weights !== 'f32') {
    const widest = Math.max(c.dim, c.hiddenDim);
    specs.push({ name: 'xq', role: 'state', element: 'i8', count: widest, description: 'quantized activation' });
    specs.push({
      name: 'xs',
      role: 'state',
      element: 'f32',
      count: groupsOf(widest, o.groupSize!),
      description: 'quantized activation, scales',
    });
  }
  return specs;
}

/**
 * Integer arithmetic's attention: in how many parts its key/value heads are split, each part's
 * heads computed one after the other in its own row of att: one per thread of `options.threads`,
 * at most one per key/value head.
 */
export function attentionParts(c: Config, options: PlanOptions): number {
  return Math.max(1, Math.min(options.threads ?? 1, c.nKvHeads));
}

/**
 * What the sampler keeps when the classifier runs in blocks at a temperature above 0
 * (src/kernels/sampling-blocks-int.ts): the candidates' logits and ids, the tally of the other
 * tokens, and the nucleus' order (the program's sampler_order, SAMPLER_CANDIDATES long here).
 */
function samplerCandidateBuffers(): BufferSpec[] {
  const k = SAMPLER_CANDIDATES;
  return [
    {
      name: 'sampler_top_logits',
      role: 'state',
      element: 'i32',
      count: k,
      description: `top-p: the ${k} largest logits, then their weights`,
    },
    { name: 'sampler_top_ids', role: 'state', element: 'i32', count: k, description: `top-p: the ${k} largest logits' tokens` },
    {
      name: 'sampler_tally',
      role: 'state',
      element: 'i32',
      count: TALLY_SIZE,
      description: 'top-p: the maximum, and the weight of the other tokens',
    },
    { name: 'sampler_order', role: 'state', element: 'i32', count: k, description: 'top-p candidates', program: true },
  ];
}

/** ", a bounded cache of 4+60" in a KV cache buffer's description, when it is one. */
function windowNote(o: PlanOptions): string {
  return o.kvWindow ? `, bounded ${describeKvWindow(o.kvWindow)}` : '';
}

/** The run state of the integer mode: Q16.16 activations, the int8 KV cache and its scales (`seqLen` rows per layer). */
function integerStateSpecs(c: Config, o: PlanOptions, seqLen: number, parts: number, classifier: ClassifierLayout): BufferSpec[] {
  const kv = kvDim(c);
  const widest = Math.max(c.dim, c.hiddenDim);
  const fixed = (name: string, count: number, description: string): BufferSpec => ({
    name,
    role: 'state',
    element: 'i32',
    count,
    description: `${description}, Q16.16`,
  });
  return [
    {
      name: 'key_cache',
      role: 'state',
      element: 'i8',
      count: c.nLayers * seqLen * kv,
      description: `KV cache, keys, int8${windowNote(o)} (${shape(c.nLayers, seqLen, kv)})`,
    },
    {
      name: 'key_scale',
      role: 'state',
      element: 'u8',
      count: c.nLayers * seqLen * c.nKvHeads,
      description: `KV cache, keys, scale codes${windowNote(o)} (${shape(c.nLayers, seqLen, c.nKvHeads)})`,
    },
    {
      name: 'value_cache',
      role: 'state',
      element: 'i8',
      count: c.nLayers * seqLen * kv,
      description: `KV cache, values, int8${windowNote(o)} (${shape(c.nLayers, seqLen, kv)})`,
    },
    {
      name: 'value_scale',
      role: 'state',
      element: 'u8',
      count: c.nLayers * seqLen * c.nKvHeads,
      description: `KV cache, values, scale codes${windowNote(o)} (${shape(c.nLayers, seqLen, c.nKvHeads)})`,
    },
    fixed('x', c.dim, 'activation'),
    fixed('xb', c.dim, 'activation inside a residual branch'),
    fixed('xb2', c.dim, 'attention output'),
    fixed('hb', c.hiddenDim, 'feed-forward hidden'),
    fixed('hb2', c.hiddenDim, 'feed-forward hidden'),
    fixed('q', c.dim, 'query'),
    fixed('k', kv, 'key'),
    fixed('v', kv, 'value'),
    {
      name: 'att',
      role: 'state',
      element: 'i32',
      count: parts * seqLen,
      description:
        parts === 1
          ? `attention scores of one head (${seqLen})`
          : `attention scores of one head per part of the heads (${shape(parts, seqLen)})`,
    },
    ...(classifier === 'whole'
      ? ([
          fixed('logits_fixed', c.vocabSize, 'output logits'),
          { name: 'logits', role: 'state', element: 'f32', count: c.vocabSize, description: 'output logits, float32 for the sampler' },
          { name: 'sampler_order', role: 'state', element: 'i32', count: c.vocabSize, description: 'top-p candidates', program: true },
        ] as BufferSpec[])
      : ([
          fixed('logits_block', Math.min(CLASSIFIER_BLOCK, c.vocabSize), `output logits, ${CLASSIFIER_BLOCK} tokens at a time`),
          { name: 'best', role: 'state', element: 'i32', count: 2, description: 'greedy: the best token so far and its logit' },
          ...samplerCandidateBuffers(),
        ] as BufferSpec[])),
    { name: 'xq', role: 'state', element: 'i8', count: widest, description: 'quantized activation' },
    { name: 'xm', role: 'state', element: 'i32', count: groupsOf(widest, o.groupSize!), description: 'quantized activation, group maxima' },
    ...(o.weights === 'q8_0'
      ? []
      : [
          {
            name: 'xw',
            role: 'state',
            element: 'i32',
            count: widest + groupsOf(widest, o.groupSize!),
            description: 'quantized activation widened for the Q4_0 matmul, and its group sums',
          } as BufferSpec,
        ]),
    { name: 'qq', role: 'state', element: 'i8', count: c.dim, description: 'quantized query' },
    { name: 'qm', role: 'state', element: 'i32', count: c.nHeads, description: 'quantized query, head maxima' },
  ];
}

/**
 * The memory plan for `config` on `target`. It decides what the program holds and where each buffer goes:
 * - the weights blob, in `target.placement.weights` (flash on a microcontroller): each matrix in the
 *   precision `options.weights` gives its role, with its scales, the norms, the RoPE tables for `seqLen`
 *   and, in integer mode, the exponential and KV-scale tables; llama2.c's order, 64-byte aligned;
 * - the run state, in `target.placement.state`: the KV cache for `seqLen` positions (default and maximum:
 *   the model's), the activations, logits and sampler scratch, then `extraState`; 64-byte aligned;
 * - code run from SRAM (`sramCode`), counted in the state's memory; and, on a flash-XIP target with SRAM
 *   state, SRAM copies of the hottest weight tensors that still fit beside both (`sramWeights`, default on);
 * - constant tables read in place (`tables`: a firmware's tokenizer), in the weights' memory after the blob.
 * Offsets count from the start of each region (the weights blob, the state, the code, the tables). A plan that does not
 * fit is returned all the same, with `fits` false and `problems` saying what would fit. Throws a UserError
 * for integer arithmetic without Q8_0 weights.
 */
export function makePlan(target: Target, config: Config, options: PlanOptions): Plan {
  if (options.arithmetic === 'integer' && options.weights === 'f32') {
    throw new UserError('--arithmetic integer needs quantized weights (--quant q8_0, q4_0 or mixed); the weights are f32.', 2);
  }
  if (options.weights !== 'f32' && !(Number.isInteger(options.groupSize) && options.groupSize! > 0)) {
    throw new Error(`makePlan: ${options.weights} weights need a positive integer group size`);
  }
  if (options.arithmetic === 'integer') {
    const unsuited = q4ShapeProblem(config, options.weights, options.groupSize!);
    if (unsuited) throw new UserError(`--arithmetic integer: ${unsuited}`, 2);
  }
  const seqLen = Math.min(options.seqLen ?? config.seqLen, config.seqLen);
  const cacheRows = kvCacheRows(seqLen, options.kvWindow);
  const extra: BufferSpec[] = (options.extraState ?? []).map((e) => ({
    name: e.name,
    role: 'state',
    element: 'i8',
    count: e.bytes,
    description: e.description,
    program: true,
  }));
  const tables: BufferSpec[] = (options.tables ?? []).map((t) => ({
    name: t.name,
    role: 'tables',
    element: 'u8',
    count: t.bytes,
    description: t.description,
    program: true,
  }));
  const code: BufferSpec[] = options.sramCode
    ? [{ name: 'sram_code', role: 'code', element: 'u8', count: options.sramCode.bytes, description: options.sramCode.description }]
    : [];
  const ring: BufferSpec[] = options.streamWeights
    ? [
        {
          name: 'weight_ring',
          role: 'state',
          element: 'u8',
          count: STREAM_RING_BYTES,
          description: 'weights streamed from flash by DMA (ring)',
        },
      ]
    : [];
  const classifier = classifierLayout(target, config, options.arithmetic);
  const specs = [
    ...weightSpecs(config, options, seqLen),
    ...stateSpecs(config, options, cacheRows, classifier),
    ...extra,
    ...ring,
    ...code,
    ...tables,
  ];
  const offsets = new Map<string, number>();
  const place = (s: BufferSpec): PlannedBuffer => {
    const memory = s.role === 'weights' || s.role === 'tables' ? target.placement.weights : target.placement.state;
    const align = s.role === 'weights' ? WEIGHT_ALIGN : s.role === 'code' || s.role === 'tables' ? CODE_ALIGN : STATE_ALIGN;
    const key = `${memory}/${s.role}`;
    const offset = alignUp(offsets.get(key) ?? 0, align);
    const bytes = s.count * ELEMENT_BYTES[s.element];
    offsets.set(key, offset + bytes);
    return { ...s, bytes, align, memory, offset };
  };
  const buffers: PlannedBuffer[] = specs.map(place);
  const codeBytes = alignUp(offsets.get(`${target.placement.state}/code`) ?? 0, CODE_ALIGN);
  for (const copy of sramCopies(target, options, buffers, offsets.get(`${target.placement.state}/state`) ?? 0, codeBytes, config, seqLen))
    buffers.push(place(copy));
  const weightsBytes = alignUp(offsets.get(`${target.placement.weights}/weights`) ?? 0, WEIGHT_ALIGN);
  const tablesBytes = alignUp(offsets.get(`${target.placement.weights}/tables`) ?? 0, CODE_ALIGN);
  const stateBytes = alignUp(offsets.get(`${target.placement.state}/state`) ?? 0, STATE_ALIGN);
  const memories: MemoryUse[] = target.memories.map((memory) => {
    const inIt = buffers.filter((b) => b.memory === memory.name);
    const used =
      (memory.name === target.placement.weights ? weightsBytes + tablesBytes : 0) +
      (memory.name === target.placement.state ? stateBytes + codeBytes : 0);
    return { memory, used, buffers: inIt };
  });
  const plan: Plan = {
    target: target.name,
    config,
    weights: options.weights,
    groupSize: options.weights !== 'f32' ? options.groupSize : undefined,
    arithmetic: options.arithmetic ?? 'float',
    seqLen,
    ...(options.kvWindow && cacheRows < seqLen ? { kvWindow: options.kvWindow } : {}),
    cacheRows,
    sharedClassifier: options.sharedClassifier,
    classifier,
    buffers,
    memories,
    weightsBytes,
    stateBytes,
    fits: true,
    problems: [],
  };
  plan.problems = findProblems(plan, target, options);
  plan.fits = plan.problems.length === 0;
  return plan;
}

function findProblems(plan: Plan, target: Target, options: PlanOptions): string[] {
  const problems: string[] = [];
  for (const use of plan.memories) {
    const capacity = use.memory.bytes;
    if (capacity === null || use.used <= capacity) continue;
    const over = use.used - capacity;
    const advice: string[] = [];
    if (use.memory.name === target.placement.state) {
      const kvBytes = use.buffers.filter((b) => /_cache$|^(key|value)_max$/.test(b.name)).reduce((s, b) => s + b.bytes, 0);
      const attRows = plan.arithmetic === 'integer' ? attentionParts(plan.config, options) : plan.config.nHeads;
      const perPosition = kvBytes / plan.cacheRows + attRows * 4;
      const fewer = Math.ceil(over / perPosition);
      if (plan.kvWindow && plan.cacheRows - fewer >= 1) {
        // a bounded cache does not grow with the context: a smaller window is what shrinks it
        const window = Math.max(1, plan.cacheRows - fewer - plan.kvWindow.sinks);
        const sinks = plan.cacheRows - fewer - window;
        advice.push(`--kv-window ${sinks}+${window} (the KV cache takes ${formatBytes(kvBytes)} at ${plan.cacheRows} rows)`);
      } else if (plan.seqLen - fewer >= 1) {
        // the estimate leaves out what else grows with the context (scale codes, RoPE tables):
        // the longest context that fits, found by planning it, unless this plan is one of that search's
        const fitting = searchingSeqLen ? undefined : longestContext(target, plan.config, options);
        advice.push(`--seq-len ${fitting ?? plan.seqLen - fewer} (the KV cache takes ${formatBytes(kvBytes)} at ${plan.seqLen} positions)`);
      } else {
        // no context is short enough: say what else fills the memory (vocabulary-sized buffers, typically)
        const fixed = use.buffers
          .filter((b) => b.role === 'state' && !b.name.endsWith('_cache') && b.name !== 'att')
          .sort((a, b) => b.bytes - a.bytes);
        const biggest = fixed
          .slice(0, 3)
          .map((b) => `${b.name} ${formatBytes(b.bytes)}`)
          .join(', ');
        advice.push(`not a shorter context: even at --seq-len 1 the state needs more than ${formatBytes(capacity)} (${biggest})`);
      }
    }
    if (use.memory.name === target.placement.weights) {
      // smaller weights, from the largest that fits
      const order: QuantScheme[] = ['q8_0', 'mixed', 'q4_0'];
      for (const weights of order.slice(order.indexOf(options.weights) + 1)) {
        const bytes = makePlanQuiet(target, plan, { ...options, weights, groupSize: options.groupSize ?? 32 });
        if (bytes <= capacity) {
          advice.push(`--quant ${weights} (${describeScheme(weights)}: ${formatBytes(bytes)})`);
          break;
        }
      }
    }
    const fw = target.firmware;
    if (use.memory.name === target.placement.weights && fw) {
      // the smallest flash chip boards carry (up to the 16 MB the RP2040's XIP window addresses) that holds this plan
      const board = BOARD_FLASH_MB.find(
        (mb) => mb * 1024 * 1024 > fw.flashBytes && use.used <= mb * 1024 * 1024 - fw.boot2Bytes - fw.codeReserveBytes,
      );
      if (board !== undefined) advice.push(`a board with ${board} MB of flash (--flash-size ${board}M)`);
      else
        advice.push(`no board of up to ${BOARD_FLASH_MB[BOARD_FLASH_MB.length - 1]} MB of flash holds ${formatBytes(use.used)} of weights`);
    }
    advice.push('a target with more memory (a Raspberry Pi runs the models that a microcontroller cannot)');
    problems.push(
      `${use.memory.name} (${use.memory.kind}): the plan needs ${formatBytes(use.used)} but ${target.name} has ${formatBytes(capacity)} ` +
        `(${formatBytes(over)} too much). What would fit: ${advice.join('; or ')}.`,
    );
  }
  return problems;
}

/**
 * The SRAM copies of weights (PlanOptions.sramWeights): on a microcontroller that reads its weights
 * in place from flash through a small cache (the RP2040: 16 KiB in front of 2 MiB), every token
 * streams all of them through that cache. A tensor copied to SRAM at boot is read at SRAM speed
 * and stops evicting the code from the cache. Hottest first (bytes read per token per byte held):
 * tables the kernels look up over and over (the exponential's), then whatever every token reads
 * whole (matrices, their scales, the norms; the embedding table when it is also the classifier),
 * largest first so that the room left is used well; a RoPE table row or an embedding row per
 * token is not worth its SRAM. Only whole tensors, and only in the SRAM the state and the code run
 * from SRAM (PlanOptions.sramCode) leave.
 */
function sramCopies(
  target: Target,
  options: PlanOptions,
  buffers: PlannedBuffer[],
  stateUsed: number,
  codeBytes: number,
  config: Config,
  seqLen: number,
): BufferSpec[] {
  const weightsIn = target.memories.find((m) => m.name === target.placement.weights);
  const stateIn = target.memories.find((m) => m.name === target.placement.state);
  if (options.sramWeights === false || weightsIn?.kind !== 'flash' || stateIn?.kind !== 'sram' || stateIn.bytes === null) return [];
  const readsPerByte = (b: PlannedBuffer): number => {
    if (b.name === 'exp_table' || b.name === 'kv_scale_table') return Infinity;
    if (b.name.startsWith('rope_')) return 1 / seqLen;
    if (b.name.startsWith('token_embedding_table')) return options.sharedClassifier ? 1 : 1 / config.vocabSize;
    return 1;
  };
  const candidates = buffers
    .filter((b) => b.role === 'weights' && readsPerByte(b) >= 1)
    .sort((a, b) => readsPerByte(b) - readsPerByte(a) || b.bytes - a.bytes);
  let used = stateUsed;
  const copies: BufferSpec[] = [];
  for (const b of candidates) {
    const end = alignUp(used, STATE_ALIGN) + b.bytes;
    if (alignUp(end, STATE_ALIGN) + codeBytes > stateIn.bytes) continue;
    used = end;
    copies.push({
      name: `${b.name}_sram`,
      role: 'state',
      element: b.element,
      count: b.count,
      description: `${b.name} copied to SRAM at boot`,
      copyOf: b.name,
    });
  }
  return copies;
}

/** The bytes the weights' memory would need with other options, ignoring capacities. */
function makePlanQuiet(target: Target, plan: Plan, options: PlanOptions): number {
  const other = makePlan({ ...target, memories: target.memories.map((m) => ({ ...m, bytes: null })) }, plan.config, options);
  return other.memories.find((m) => m.memory.name === target.placement.weights)!.used;
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

function shape(...dims: number[]): string {
  return dims.filter((d) => d !== 1).join(' × ') || '1';
}

/** The buffer called `name` (its C name); a missing one throws a plain Error, as that is a bug, not user input. */
export function buffer(plan: Plan, name: string): PlannedBuffer {
  const b = plan.buffers.find((x) => x.name === name);
  if (!b) throw new Error(`plan has no buffer ${name}`);
  return b;
}

/** True while longestContext plans the contexts it tries: their problems need no advice of their own. */
let searchingSeqLen = false;

/** longestFittingSeqLen for a plan's advice, which the plans it makes do not advise in turn. */
function longestContext(target: Target, config: Config, options: PlanOptions): number | undefined {
  searchingSeqLen = true;
  try {
    return longestFittingSeqLen(target, config, options);
  } finally {
    searchingSeqLen = false;
  }
}

/**
 * The longest context whose plan fits the target, when the model's own does not (the KV cache,
 * the attention scores and the RoPE tables grow with it); undefined when nothing fits or it fits
 * already.
 */
export function longestFittingSeqLen(target: Target, config: Config, options: PlanOptions): number | undefined {
  if (makePlan(target, config, options).fits) return undefined;
  if (!makePlan(target, config, { ...options, seqLen: 1 }).fits) return undefined;
  let low = 1;
  let high = Math.min(options.seqLen ?? config.seqLen, config.seqLen);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (makePlan(target, config, { ...options, seqLen: mid }).fits) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * The largest token id plus one, and the largest position, that a build can carry: the serial
 * protocol (version 1, doc/protocol.md) sends token ids, steps and positions in 16 bits, and every
 * program a build makes (host, Raspberry Pi, firmware) speaks it.
 */
export const PROTOCOL_MAX_VOCAB = 65_535;
export const PROTOCOL_MAX_SEQ_LEN = 65_535;

/**
 * Refuses, at plan time, a model the protocol cannot carry: a vocabulary whose ids do not fit in
 * 16 bits (they would be truncated on the wire), or a context (`seqLen`, default the model's)
 * longer than 16-bit positions count. `model` names the checkpoint in the message.
 */
export function checkProtocolLimits(config: Config, seqLen: number | undefined, model: string): void {
  if (config.vocabSize > PROTOCOL_MAX_VOCAB) {
    throw new UserError(
      `${model} has a vocabulary of ${config.vocabSize.toLocaleString('en-US')} tokens, and a build can carry at most ${PROTOCOL_MAX_VOCAB.toLocaleString('en-US')}: ` +
        'the serial protocol sends token ids in 16 bits, so larger ids would arrive wrong. Use a model with a smaller vocabulary; ' +
        'generate runs it on this computer with the reference engine.',
      2,
    );
  }
  const context = seqLen ?? config.seqLen;
  if (context > PROTOCOL_MAX_SEQ_LEN) {
    throw new UserError(
      `${seqLen === undefined ? `${model}'s context (seq_len)` : '--seq-len'} is ${context.toLocaleString('en-US')} positions, and a build can carry at most ${PROTOCOL_MAX_SEQ_LEN.toLocaleString('en-US')} ` +
        `(the serial protocol counts positions in 16 bits). Add --seq-len ${PROTOCOL_MAX_SEQ_LEN} or less.`,
      2,
    );
  }
}
