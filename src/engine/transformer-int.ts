/**
 * The reference forward pass of the integer mode (doc/kernels.md, "Integer mode"): what an
 * `--arithmetic integer` build computes, kernel for kernel, so that its tokens can be demanded
 * bit for bit. Activations are Q16.16 integers, the KV cache int8 with one scale per position and
 * head, and float32 appears only once per vector (RMSNorm's inverse square root, the attention's
 * per-head factors) and in the logits handed to the sampler.
 */
import { headSize, kvDim, type Config, type Model } from '../checkpoint/model.js';
import { attentionInt, storeKvInt } from '../kernels/attention-int.js';
import { embedQ8Int, matmulQ8Int, residualAddInt } from '../kernels/matmul-int.js';
import { embedQ4Int, matmulQ4Int, widenQ4Activation } from '../kernels/matmul-q4-int.js';
import { rmsnormInt } from '../kernels/rmsnorm-int.js';
import { quantizeQ8Int } from '../kernels/quantize-int.js';
import { ropeInt } from '../kernels/rope-int.js';
import { fixedToFloat, swigluInt } from '../kernels/swiglu-int.js';
import { fixedTables, toFixedPoint, type FixedMatrix, type FixedModel, type FixedTables } from '../quant/fixed-point.js';
import { UserError } from '../util/errors.js';
import {
  CLASSIFIER_BLOCK,
  forwardSteps,
  unsupportedStep,
  type CacheRow,
  type ClassifierLayout,
  type ForwardSteps,
  type Matrix,
  type NormWeight,
  type Step,
  type Vector,
} from './forward-steps.js';
import type { ClassifierFold, FixedLogits } from './sampler.js';
import { kvCacheRows, kvLastRow, kvRow, type KvWindow } from './kv-window.js';

/** The softmax sums the Q14 probabilities of every position (each at most 2^14) in 32 bits. */
export const INTEGER_MAX_SEQ_LEN = 131071;

/**
 * The integer mode's run state for a cache of `cacheRows` rows per layer (seq_len, or SINKS + WINDOW
 * for a bounded cache): Q16.16 activations, the int8 KV cache with a scale code per row and KV head,
 * and the int8 activation and query with their maxima.
 */
export class IntRunState {
  readonly x: Int32Array;
  readonly xb: Int32Array;
  readonly xb2: Int32Array;
  readonly hb: Int32Array;
  readonly hb2: Int32Array;
  readonly q: Int32Array;
  readonly k: Int32Array;
  readonly v: Int32Array;
  readonly att: Int32Array; // [cache rows]: one head at a time
  readonly logitsFixed: Int32Array;
  readonly logits: Float32Array;
  readonly keyCache: Int8Array; // [n_layers, cache rows, kv_dim]
  readonly keyScale: Uint8Array; // [n_layers, cache rows, n_kv_heads]: codes of kvScaleTable
  readonly valueCache: Int8Array;
  readonly valueScale: Uint8Array;
  readonly xq: Int8Array;
  readonly xm: Int32Array;
  readonly qq: Int8Array;
  readonly qm: Int32Array;

  constructor(c: Config, cacheRows: number, groupSize: number) {
    const kv = kvDim(c);
    const widest = Math.max(c.dim, c.hiddenDim);
    this.x = new Int32Array(c.dim);
    this.xb = new Int32Array(c.dim);
    this.xb2 = new Int32Array(c.dim);
    this.hb = new Int32Array(c.hiddenDim);
    this.hb2 = new Int32Array(c.hiddenDim);
    this.q = new Int32Array(c.dim);
    this.k = new Int32Array(kv);
    this.v = new Int32Array(kv);
    this.att = new Int32Array(cacheRows);
    this.logitsFixed = new Int32Array(c.vocabSize);
    this.logits = new Float32Array(c.vocabSize);
    this.keyCache = new Int8Array(c.nLayers * cacheRows * kv);
    this.keyScale = new Uint8Array(c.nLayers * cacheRows * c.nKvHeads);
    this.valueCache = new Int8Array(c.nLayers * cacheRows * kv);
    this.valueScale = new Uint8Array(c.nLayers * cacheRows * c.nKvHeads);
    this.xq = new Int8Array(widest);
    this.xm = new Int32Array(Math.ceil(widest / groupSize));
    this.qq = new Int8Array(c.dim);
    this.qm = new Int32Array(c.nHeads);
  }
}

/**
 * The integer-mode engine: built from a Q8_0, Q4_0 or mixed Model (converted by toFixedPoint, which throws a
 * UserError for f32 weights) or a FixedModel; `forward(token, pos)` returns float32 logits, a view into `state`
 * that the next call overwrites. With `options.classifier` 'blocks' it walks the steps of a build whose
 * logits do not fit its SRAM: forward() then stops at the final RMSNorm and returns no logits (an
 * empty vector), and the Sampler runs the classifier a block at a time (`fixedLogits.blocks`).
 * `options.kvWindow` bounds the KV cache to its sinks and window (./kv-window.ts). Throws a UserError
 * for a context over INTEGER_MAX_SEQ_LEN.
 */
export class IntTransformer {
  readonly config: Config;
  readonly seqLen: number;
  /** The KV cache's rows per layer: seqLen, or SINKS + WINDOW with a bounded cache. */
  readonly cacheRows: number;
  readonly kvWindow?: KvWindow;
  readonly state: IntRunState;
  readonly fixed: FixedModel;
  private readonly tables: FixedTables;
  /** The Q16.16 logits (filled by forward) and the exponential's table: what integer-mode sampling reads. */
  readonly fixedLogits: FixedLogits;
  private readonly steps: ForwardSteps;
  /** The quantized activation widened for the Q4_0 matmul (widenQ4Activation): the widest row and its group sums. */
  private readonly xw: Int32Array;
  /** The classifier's block of logits when it runs in blocks (classifierBlocks). */
  private readonly logitsBlock = new Int32Array(CLASSIFIER_BLOCK);

  constructor(
    model: Model | FixedModel,
    seqLen = model.config.seqLen,
    options: { classifier?: ClassifierLayout; kvWindow?: KvWindow } = {},
  ) {
    this.fixed = 'format' in model ? toFixedPoint(model) : model;
    this.config = model.config;
    this.seqLen = Math.min(seqLen, model.config.seqLen);
    if (this.seqLen > INTEGER_MAX_SEQ_LEN) {
      throw new UserError(
        `integer mode handles contexts of up to ${INTEGER_MAX_SEQ_LEN} positions; use --seq-len ${INTEGER_MAX_SEQ_LEN} or less.`,
      );
    }
    this.kvWindow = options.kvWindow;
    this.cacheRows = kvCacheRows(this.seqLen, options.kvWindow);
    this.state = new IntRunState(this.config, this.cacheRows, this.fixed.groupSize);
    this.tables = fixedTables(this.config, this.seqLen);
    const blocks = options.classifier === 'blocks';
    this.steps = forwardSteps('integer', options.classifier);
    this.fixedLogits = {
      values: this.state.logitsFixed,
      expTable: this.tables.exp,
      ...(blocks ? { blocks: (fold: ClassifierFold) => this.classifierBlocks(fold) } : {}),
    };
    const widest = Math.max(this.config.dim, this.config.hiddenDim);
    this.xw = new Int32Array(widest + Math.ceil(widest / this.fixed.groupSize));
  }

  /** Runs the model on `token` at position `pos` and returns the float32 logits (a view into the state; empty with the classifier in blocks). */
  forward(token: number, pos: number): Float32Array {
    for (const step of this.steps.first) this.run(step, token, pos, 0);
    for (let l = 0; l < this.config.nLayers; l++) {
      for (const step of this.steps.layer) this.run(step, token, pos, l);
    }
    for (const step of this.steps.last) this.run(step, token, pos, this.config.nLayers);
    return this.fixedLogits.blocks ? NO_LOGITS : this.state.logits;
  }

  /**
   * The classifier · x after a forward() whose classifier is in blocks: CLASSIFIER_BLOCK rows at a
   * time (the last block possibly shorter) into one block of Q16.16 logits, each handed to `fold`
   * with its first token, in token order, as sample_logits does in C.
   */
  classifierBlocks(fold: ClassifierFold): void {
    const vocab = this.config.vocabSize;
    this.quantize('x');
    for (let first = 0; first < vocab; first += CLASSIFIER_BLOCK) {
      const count = Math.min(CLASSIFIER_BLOCK, vocab - first);
      this.linear(this.logitsBlock, rowsOf(this.fixed.classifier, first, count));
      fold(this.logitsBlock, first, count);
    }
  }

  /** One step of the forward pass (./forward-steps.ts) for `token` at `pos`, in layer `l`. */
  private run(step: Step, token: number, pos: number, l: number): void {
    const c = this.config;
    const s = this.state;
    const w = this.fixed;
    const t = this.tables;
    const dim = c.dim;
    const hs = headSize(c);
    const kv = kvDim(c);
    const layerOffset = l * this.cacheRows * kv;
    const layerScales = l * this.cacheRows * c.nKvHeads;
    const row = kvRow(pos, this.cacheRows, this.kvWindow);
    switch (step.op) {
      case 'embed': {
        const emb = w.tokenEmbedding;
        if (emb.dtype === 'q8_0') embedQ8Int(s.x, emb.q, emb.scales, token, dim, w.groupSize, emb.scaleShift);
        else embedQ4Int(s.x, emb.q, emb.scales, token, dim, w.groupSize, emb.scaleShift);
        break;
      }
      case 'rmsnorm':
        rmsnormInt(this.vector(step.out), this.vector(step.input), this.norm(step.weight, l), dim);
        break;
      case 'matmuls':
        // the input quantized once for all the step's matrices (they share its length)
        this.quantize(step.input);
        for (const p of step.products) this.linear(this.vector(p.out), this.matrix(p.weight, l));
        break;
      case 'rope':
        ropeInt(s.q, this.vector(step.k), t.ropeCos, t.ropeSin, pos, dim, kv, hs);
        break;
      case 'storeKv':
        storeKvInt(
          s.keyCache,
          s.keyScale,
          s.valueCache,
          s.valueScale,
          s.k,
          s.v,
          t.kvScale,
          layerOffset + row * kv,
          layerScales + row * c.nKvHeads,
          kv,
          hs,
        );
        break;
      case 'attention':
        attentionInt(
          s.xb,
          s.q,
          s.qq,
          s.qm,
          s.keyCache,
          s.keyScale,
          s.valueCache,
          s.valueScale,
          t.kvScale,
          s.att,
          t.exp,
          layerOffset,
          layerScales,
          kvLastRow(pos, this.cacheRows),
          c.nHeads,
          hs,
          kv,
          c.nHeads / c.nKvHeads,
        );
        break;
      case 'residual':
        residualAddInt(s.x, this.vector(step.input), dim);
        break;
      case 'gatedFfn': {
        const gate = this.vector(step.gate.out);
        const up = this.vector(step.up.out);
        this.quantize(step.input);
        this.linear(gate, this.matrix(step.gate.weight, l));
        this.linear(up, this.matrix(step.up.weight, l));
        swigluInt(gate, up, t.exp, c.hiddenDim);
        break;
      }
      case 'logitsToFloat':
        fixedToFloat(s.logits, s.logitsFixed, c.vocabSize);
        break;
      default:
        throw unsupportedStep('the integer engine', step);
    }
  }

  /** A Q16.16 vector of the run state (the KV cache is int8: k and v reach it through storeKv). */
  private vector(name: Vector | CacheRow): Int32Array {
    if (name === 'logits' || name === 'keyCacheRow' || name === 'valueCacheRow') {
      throw new Error(`internal: the integer engine has no Q16.16 vector ${name}`);
    }
    return this.state[name];
  }

  /** xq, xm ← the vector `name` quantized to int8 in groups. */
  private quantize(name: Vector): void {
    const x = this.vector(name);
    quantizeQ8Int(this.state.xq, this.state.xm, x, x.length, this.fixed.groupSize);
  }

  private matrix(name: Matrix, l: number): FixedMatrix {
    return name === 'classifier' ? this.fixed.classifier : this.fixed.layers[l][name];
  }

  private norm(name: NormWeight, l: number): Int32Array {
    return name === 'rmsFinal' ? this.fixed.rmsFinal : this.fixed.layers[l][name];
  }

  /** out = W · x, x already quantized in xq, xm (and widened for a Q4_0 W). */
  private linear(out: Int32Array, m: FixedMatrix): void {
    if (m.dtype === 'q8_0') {
      matmulQ8Int(out, this.state.xq, this.state.xm, m.q, m.scales, m.cols, m.rows, m.groupSize, m.scaleShift);
    } else {
      widenQ4Activation(this.xw, this.state.xq, m.cols, m.groupSize);
      matmulQ4Int(out, this.xw, this.state.xm, m.q, m.scales, m.cols, m.rows, m.groupSize, m.scaleShift);
    }
  }
}

/** What forward() returns when the classifier runs in blocks: no logits vector. */
const NO_LOGITS = new Float32Array(0);

/** Rows first .. first + count - 1 of a matrix, as a matrix of their own (views, not copies); first even for Q4_0's row pairs. */
function rowsOf(m: FixedMatrix, first: number, count: number): FixedMatrix {
  const groups = Math.ceil(m.cols / m.groupSize);
  const scales = m.scales.subarray(first * groups, (first + count) * groups);
  if (m.dtype === 'q8_0') return { ...m, rows: count, q: m.q.subarray(first * m.cols, (first + count) * m.cols), scales };
  return { ...m, rows: count, q: m.q.subarray((first * m.cols) / 8, ((first + count) * m.cols) / 8), scales };
}
