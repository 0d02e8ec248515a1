/**
 * The reference forward pass (llama2.c run.c `forward`, and runq.c's for Q8_0 and Q4_0 weights): the
 * steps of ./forward-steps.ts run with the kernels in src/kernels/. This is the oracle every compiled target is checked against.
 */
import type { Config, Model, Tensor } from '../checkpoint/model.js';
import { headSize, kvDim } from '../checkpoint/model.js';
import { attention } from '../kernels/attention.js';
import { embedF32, embedQ8 } from '../kernels/embed.js';
import { embedQ4 } from '../kernels/embed-q4.js';
import { matmulF32, matmulQ8 } from '../kernels/matmul.js';
import { matmulQ4 } from '../kernels/matmul-q4.js';
import { quantizeQ8 } from '../kernels/quantize.js';
import { residualAdd } from '../kernels/residual.js';
import { rmsnorm } from '../kernels/rmsnorm.js';
import { rope } from '../kernels/rope.js';
import { swiglu } from '../kernels/swiglu.js';
import { forwardSteps, unsupportedStep, type CacheRow, type Matrix, type NormWeight, type Step, type Vector } from './forward-steps.js';
import { buildRopeTables, type RopeTables } from '../checkpoint/rope-tables.js';
import { kvCacheRows, kvLastRow, kvRow, type KvWindow } from './kv-window.js';

const FLOAT_STEPS = forwardSteps('float');

/** The activations and KV cache of one sequence (llama2.c `RunState`). */
export class RunState {
  readonly x: Float32Array; // current activation [dim]
  readonly xb: Float32Array; // same, inside a residual branch [dim]
  readonly xb2: Float32Array; // an additional buffer [dim]
  readonly hb: Float32Array; // feed-forward hidden [hidden_dim]
  readonly hb2: Float32Array; // feed-forward hidden [hidden_dim]
  readonly q: Float32Array; // query [dim]
  readonly att: Float32Array; // attention scores [n_heads, cache rows]
  readonly logits: Float32Array; // [vocab_size]
  readonly keyCache: Float32Array; // [n_layers, cache rows, kv_dim]
  readonly valueCache: Float32Array; // [n_layers, cache rows, kv_dim]
  readonly xq: Int8Array; // a quantized activation [max(dim, hidden_dim)]
  readonly xs: Float32Array; // its group scales

  /** `cacheRows`: the KV cache's rows per layer (seq_len, or SINKS + WINDOW for a bounded cache). */
  constructor(c: Config, cacheRows: number) {
    const kv = kvDim(c);
    const widest = Math.max(c.dim, c.hiddenDim);
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(c.dim);
    this.xb2 = new Float32Array(c.dim);
    this.hb = new Float32Array(c.hiddenDim);
    this.hb2 = new Float32Array(c.hiddenDim);
    this.q = new Float32Array(c.dim);
    this.att = new Float32Array(c.nHeads * cacheRows);
    this.logits = new Float32Array(c.vocabSize);
    this.keyCache = new Float32Array(c.nLayers * cacheRows * kv);
    this.valueCache = new Float32Array(c.nLayers * cacheRows * kv);
    this.xq = new Int8Array(widest);
    this.xs = new Float32Array(widest);
  }
}

/**
 * The reference engine for one sequence: `forward(token, pos)`, called for pos 0, 1, … in order, fills
 * the KV cache and returns the logits. Reads the model's tensors in place (fp32, Q8_0 or Q4_0, each its own).
 */
export class Transformer {
  readonly config: Config;
  readonly seqLen: number;
  /** The KV cache's rows per layer: seqLen, or SINKS + WINDOW with a bounded cache (./kv-window.ts). */
  readonly cacheRows: number;
  readonly state: RunState;
  private readonly rope: RopeTables;

  /**
   * `seqLen` may shorten the model's context (and KV cache); it cannot lengthen it. `kvWindow`
   * bounds the cache to its sinks and window (an approximation once the text is longer).
   */
  constructor(
    readonly model: Model,
    seqLen = model.config.seqLen,
    readonly kvWindow?: KvWindow,
  ) {
    this.config = model.config;
    this.seqLen = Math.min(seqLen, model.config.seqLen);
    this.cacheRows = kvCacheRows(this.seqLen, kvWindow);
    this.state = new RunState(this.config, this.cacheRows);
    this.rope = buildRopeTables(this.config, this.seqLen);
  }

  /** Runs the model on `token` at position `pos` and returns the logits (a view into the state). */
  forward(token: number, pos: number): Float32Array {
    for (const step of FLOAT_STEPS.first) this.run(step, token, pos, 0);
    for (let l = 0; l < this.config.nLayers; l++) {
      for (const step of FLOAT_STEPS.layer) this.run(step, token, pos, l);
    }
    for (const step of FLOAT_STEPS.last) this.run(step, token, pos, this.config.nLayers);
    return this.state.logits;
  }

  /** One step of the forward pass (./forward-steps.ts) for `token` at `pos`, in layer `l`. */
  private run(step: Step, token: number, pos: number, l: number): void {
    const c = this.config;
    const s = this.state;
    const dim = c.dim;
    switch (step.op) {
      case 'embed':
        embed(s.x, this.model.tokenEmbedding, token);
        break;
      case 'rmsnorm':
        rmsnorm(this.vector(step.out, pos, l), this.vector(step.input, pos, l), this.norm(step.weight, l), dim);
        break;
      case 'matmuls': {
        const input = this.vector(step.input, pos, l);
        for (const p of step.products) this.linear(this.vector(p.out, pos, l), input, this.matrix(p.weight, l));
        break;
      }
      case 'rope':
        rope(s.q, this.vector(step.k, pos, l), this.rope.cos, this.rope.sin, pos, dim, kvDim(c), headSize(c));
        break;
      case 'attention': {
        const kv = kvDim(c);
        const layerOffset = l * this.cacheRows * kv;
        // the rows filled so far: positions 0 … pos, or the sinks and the window once it goes round
        attention(
          s.xb,
          s.q,
          s.keyCache,
          s.valueCache,
          s.att,
          layerOffset,
          kvLastRow(pos, this.cacheRows),
          c.nHeads,
          headSize(c),
          kv,
          c.nHeads / c.nKvHeads,
          this.cacheRows,
        );
        break;
      }
      case 'residual':
        residualAdd(s.x, this.vector(step.input, pos, l), dim);
        break;
      case 'gatedFfn': {
        const input = this.vector(step.input, pos, l);
        const gate = this.vector(step.gate.out, pos, l);
        const up = this.vector(step.up.out, pos, l);
        this.linear(gate, input, this.matrix(step.gate.weight, l));
        this.linear(up, input, this.matrix(step.up.weight, l));
        swiglu(gate, up, c.hiddenDim);
        break;
      }
      default:
        throw unsupportedStep('the float engine', step);
    }
  }

  /** A vector of the run state; the cache rows are layer l's for `pos` (./kv-window.ts, kvRow). */
  private vector(name: Vector | CacheRow, pos: number, l: number): Float32Array {
    const s = this.state;
    switch (name) {
      case 'keyCacheRow':
      case 'valueCacheRow': {
        const kv = kvDim(this.config);
        const row = (l * this.cacheRows + kvRow(pos, this.cacheRows, this.kvWindow)) * kv;
        return (name === 'keyCacheRow' ? s.keyCache : s.valueCache).subarray(row, row + kv);
      }
      case 'k':
      case 'v':
      case 'logitsFixed':
        throw new Error(`internal: the float engine has no vector ${name}`);
      default:
        return s[name];
    }
  }

  private matrix(name: Matrix, l: number): Tensor {
    return name === 'classifier' ? this.model.classifier : this.model.layers[l][name];
  }

  private norm(name: NormWeight, l: number): Float32Array {
    return name === 'rmsFinal' ? this.model.rmsFinal : this.model.layers[l][name];
  }

  /**
   * out = W · x: for fp32 weights directly; for Q8_0 and Q4_0 weights after quantizing x to int8
   * with W's grouping (each matrix may have its own precision and group size).
   */
  private linear(out: Float32Array, x: Float32Array, weight: Tensor): void {
    const s = this.state;
    switch (weight.dtype) {
      case 'f32':
        matmulF32(out, x, weight.data, weight.cols, weight.rows);
        break;
      case 'q8_0':
        quantizeQ8(s.xq, s.xs, x, weight.cols, weight.groupSize);
        matmulQ8(out, s.xq, s.xs, weight.q, weight.scales, weight.cols, weight.rows, weight.groupSize);
        break;
      case 'q4_0':
        quantizeQ8(s.xq, s.xs, x, weight.cols, weight.groupSize);
        matmulQ4(out, s.xq, s.xs, weight.q, weight.scales, weight.cols, weight.rows, weight.groupSize);
        break;
    }
  }
}

/** x ← the embedding row of `token` (dequantized for Q8_0 and Q4_0, as runq.c does at load time). */
function embed(x: Float32Array, table: Tensor, token: number): void {
  switch (table.dtype) {
    case 'f32':
      embedF32(x, table.data, token, table.cols);
      break;
    case 'q8_0':
      embedQ8(x, table.q, table.scales, token, table.cols, table.groupSize);
      break;
    case 'q4_0':
      embedQ4(x, table.q, table.scales, token, table.cols, table.groupSize);
      break;
  }
}
