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
import { rmsnormInt } from '../kernels/rmsnorm-int.js';
import { quantizeQ8Int } from '../kernels/quantize-int.js';
import { ropeInt } from '../kernels/rope-int.js';
import { fixedToFloat, swigluInt } from '../kernels/swiglu-int.js';
import { fixedTables, toFixedPoint, type FixedMatrix, type FixedModel, type FixedTables } from '../quant/fixed-point.js';
import { UserError } from '../util/errors.js';
import { forwardSteps, unsupportedStep, type CacheRow, type Matrix, type NormWeight, type Step, type Vector } from './forward-steps.js';
import type { FixedLogits } from './sampler.js';

const INTEGER_STEPS = forwardSteps('integer');

/** The softmax sums the Q14 probabilities of every position (each at most 2^14) in 32 bits. */
export const INTEGER_MAX_SEQ_LEN = 131071;

/**
 * The integer mode's run state for `seqLen` positions: Q16.16 activations, the int8 KV cache with a
 * scale code per position and KV head, and the int8 activation and query with their maxima.
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
  readonly att: Int32Array; // [seq_len]: one head at a time
  readonly logitsFixed: Int32Array;
  readonly logits: Float32Array;
  readonly keyCache: Int8Array; // [n_layers, seq_len, kv_dim]
  readonly keyScale: Uint8Array; // [n_layers, seq_len, n_kv_heads]: codes of kvScaleTable
  readonly valueCache: Int8Array;
  readonly valueScale: Uint8Array;
  readonly xq: Int8Array;
  readonly xm: Int32Array;
  readonly qq: Int8Array;
  readonly qm: Int32Array;

  constructor(c: Config, seqLen: number, groupSize: number) {
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
    this.att = new Int32Array(seqLen);
    this.logitsFixed = new Int32Array(c.vocabSize);
    this.logits = new Float32Array(c.vocabSize);
    this.keyCache = new Int8Array(c.nLayers * seqLen * kv);
    this.keyScale = new Uint8Array(c.nLayers * seqLen * c.nKvHeads);
    this.valueCache = new Int8Array(c.nLayers * seqLen * kv);
    this.valueScale = new Uint8Array(c.nLayers * seqLen * c.nKvHeads);
    this.xq = new Int8Array(widest);
    this.xm = new Int32Array(Math.ceil(widest / groupSize));
    this.qq = new Int8Array(c.dim);
    this.qm = new Int32Array(c.nHeads);
  }
}

/**
 * The integer-mode engine: built from a Q8_0 Model (converted by toFixedPoint, which throws a UserError
 * for other weights) or a FixedModel; `forward(token, pos)` returns float32 logits, a view into `state`
 * that the next call overwrites. Throws a UserError for a context over INTEGER_MAX_SEQ_LEN.
 */
export class IntTransformer {
  readonly config: Config;
  readonly seqLen: number;
  readonly state: IntRunState;
  readonly fixed: FixedModel;
  private readonly tables: FixedTables;
  /** The Q16.16 logits (filled by forward) and the exponential's table: what integer-mode sampling reads. */
  readonly fixedLogits: FixedLogits;

  constructor(model: Model | FixedModel, seqLen = model.config.seqLen) {
    this.fixed = 'format' in model ? toFixedPoint(model) : model;
    this.config = model.config;
    this.seqLen = Math.min(seqLen, model.config.seqLen);
    if (this.seqLen > INTEGER_MAX_SEQ_LEN) {
      throw new UserError(
        `integer mode handles contexts of up to ${INTEGER_MAX_SEQ_LEN} positions; use --seq-len ${INTEGER_MAX_SEQ_LEN} or less.`,
      );
    }
    this.state = new IntRunState(this.config, this.seqLen, this.fixed.groupSize);
    this.tables = fixedTables(this.config, this.seqLen);
    this.fixedLogits = { values: this.state.logitsFixed, expTable: this.tables.exp };
  }

  /** Runs the model on `token` at position `pos` and returns the float32 logits (a view into the state). */
  forward(token: number, pos: number): Float32Array {
    for (const step of INTEGER_STEPS.first) this.run(step, token, pos, 0);
    for (let l = 0; l < this.config.nLayers; l++) {
      for (const step of INTEGER_STEPS.layer) this.run(step, token, pos, l);
    }
    for (const step of INTEGER_STEPS.last) this.run(step, token, pos, this.config.nLayers);
    return this.state.logits;
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
    const layerOffset = l * this.seqLen * kv;
    const layerScales = l * this.seqLen * c.nKvHeads;
    switch (step.op) {
      case 'embed': {
        const emb = w.tokenEmbedding;
        embedQ8Int(s.x, emb.q, emb.scales, token, dim, w.groupSize, emb.scaleShift);
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
          layerOffset + pos * kv,
          layerScales + pos * c.nKvHeads,
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
          pos,
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

  /** out = W · x, x already quantized in xq, xm. */
  private linear(out: Int32Array, m: FixedMatrix): void {
    matmulQ8Int(out, this.state.xq, this.state.xm, m.q, m.scales, m.cols, m.rows, m.groupSize, m.scaleShift);
  }
}
