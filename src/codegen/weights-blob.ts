/**
 * weights.bin: every weight buffer of the plan, in plan order, at the plan's offsets (zero padding
 * between), little-endian as the targets read them in place. Linked into the program by blobs.S.
 * A float plan takes the model's own tensors and float32 tables; an integer plan (src/quant/
 * fixed-point.ts) the same int8 values with fixed-point scales, norms and tables.
 */
import type { Model, Tensor } from '../checkpoint/model.js';
import { LAYER_MATRICES, type LayerMatrixName } from '../checkpoint/model.js';
import { buildRopeTables } from '../checkpoint/rope-tables.js';
import type { Plan, PlannedBuffer } from '../plan/plan.js';
import { fixedTables, toFixedPoint, type FixedMatrix, type FixedModel } from '../quant/fixed-point.js';

type Part = 'values' | 'scales';
type MatrixName = 'token_embedding_table' | 'wcls' | LayerMatrixName;

/** Where a blob's numbers come from: one view per matrix part (per layer), norm and table. */
interface WeightSource {
  matrix(name: MatrixName, layer: number, part: Part, b: PlannedBuffer): ArrayBufferView;
  rmsAtt: ArrayBufferView[];
  rmsFfn: ArrayBufferView[];
  rmsFinal: ArrayBufferView;
  tables: Record<string, ArrayBufferView>;
}

function tensorPart(t: Tensor, part: Part, b: PlannedBuffer, plan: Plan, name: string): ArrayBufferView {
  const wanted = b.matrix ?? 'f32';
  if (t.dtype !== wanted || (t.dtype !== 'f32' && t.groupSize !== plan.groupSize)) {
    const has = t.dtype === 'f32' ? 'f32' : `${t.dtype} with group size ${t.groupSize}`;
    throw new Error(
      `${name}: the plan wants ${wanted}${wanted === 'f32' ? '' : ` with group size ${plan.groupSize}`} but the model holds ${has}`,
    );
  }
  if (t.dtype === 'f32') return t.data;
  return part === 'values' ? t.q : t.scales;
}

/** The model as it is: float32 norms and RoPE tables. */
function floatSource(model: Model, plan: Plan): WeightSource {
  const rope = buildRopeTables(model.config, plan.seqLen);
  const tensor = (name: MatrixName, layer: number): Tensor =>
    name === 'token_embedding_table' ? model.tokenEmbedding : name === 'wcls' ? model.classifier : model.layers[layer][name];
  const label = (name: MatrixName, layer: number) =>
    name === 'token_embedding_table' || name === 'wcls' ? name : `layers.${layer}.${name}`;
  return {
    matrix: (name, layer, part, b) => tensorPart(tensor(name, layer), part, b, plan, label(name, layer)),
    rmsAtt: model.layers.map((l) => l.rmsAtt),
    rmsFfn: model.layers.map((l) => l.rmsFfn),
    rmsFinal: model.rmsFinal,
    tables: { rope_cos: rope.cos, rope_sin: rope.sin },
  };
}

/** The integer mode's numbers: the same int8 values, fixed-point scales, norms and tables. */
function integerSource(model: Model, plan: Plan, fixed: FixedModel): WeightSource {
  const tables = fixedTables(model.config, plan.seqLen);
  const matrix = (name: MatrixName, layer: number): FixedMatrix =>
    name === 'token_embedding_table' ? fixed.tokenEmbedding : name === 'wcls' ? fixed.classifier : fixed.layers[layer][name];
  return {
    matrix: (name, layer, part) => (part === 'values' ? matrix(name, layer).q : matrix(name, layer).scales),
    rmsAtt: fixed.layers.map((l) => l.rmsAtt),
    rmsFfn: fixed.layers.map((l) => l.rmsFfn),
    rmsFinal: fixed.rmsFinal,
    tables: { rope_cos: tables.ropeCos, rope_sin: tables.ropeSin, exp_table: tables.exp, kv_scale_table: tables.kvScale },
  };
}

/** The data of one planned weight buffer, as one or more views (one per layer for layered tensors). */
function viewsFor(b: PlannedBuffer, source: WeightSource, layers: number): ArrayBufferView[] {
  const part: Part = b.name.endsWith('_scales') ? 'scales' : 'values';
  const base = b.name.replace(/_scales$/, '');
  if (base === 'token_embedding_table' || base === 'wcls') return [source.matrix(base, 0, part, b)];
  if ((LAYER_MATRICES as readonly string[]).includes(base)) {
    return Array.from({ length: layers }, (_, l) => source.matrix(base as LayerMatrixName, l, part, b));
  }
  if (base === 'rms_att_weight') return source.rmsAtt;
  if (base === 'rms_ffn_weight') return source.rmsFfn;
  if (base === 'rms_final_weight') return [source.rmsFinal];
  if (base in source.tables) return [source.tables[base]];
  throw new Error(`no weights for planned buffer ${b.name}`);
}

/**
 * The chunks of weights.bin; their total is plan.weightsBytes. An integer plan's numbers come from
 * `fixed` (the model's fixed-point view, converted here if the caller has not already).
 */
export function* weightsBlob(plan: Plan, model: Model, fixed?: FixedModel): Generator<Uint8Array> {
  const source = plan.arithmetic === 'integer' ? integerSource(model, plan, fixed ?? toFixedPoint(model)) : floatSource(model, plan);
  let at = 0;
  for (const b of plan.buffers.filter((x) => x.role === 'weights')) {
    if (b.offset > at) yield new Uint8Array(b.offset - at);
    let written = 0;
    for (const view of viewsFor(b, source, model.config.nLayers)) {
      yield new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      written += view.byteLength;
    }
    if (written !== b.bytes) throw new Error(`${b.name}: planned ${b.bytes} bytes, the model has ${written}`);
    at = b.offset + b.bytes;
  }
  if (plan.weightsBytes > at) yield new Uint8Array(plan.weightsBytes - at);
}
