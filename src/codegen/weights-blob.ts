/**
 * weights.bin: every weight buffer of the plan, in plan order, at the plan's offsets (zero padding
 * between), little-endian as the targets read them in place. Linked into the program by blobs.S.
 */
import type { Model, Tensor } from '../checkpoint/model.js';
import { buildRopeTables } from '../engine/rope-tables.js';
import type { Plan, PlannedBuffer } from '../plan/plan.js';
import { fixedTables, toFixedPoint, type FixedMatrix, type FixedModel, type FixedTables } from '../quant/fixed-point.js';

type Part = 'values' | 'scales';

function tensorPart(t: Tensor, part: Part, b: PlannedBuffer, plan: Plan, name: string): ArrayBufferView {
  const wanted = b.matrix ?? 'f32';
  if (t.dtype !== wanted || (t.dtype !== 'f32' && t.groupSize !== plan.groupSize)) {
    const has = t.dtype === 'f32' ? 'f32' : `${t.dtype} with group size ${t.groupSize}`;
    throw new Error(`${name}: the plan wants ${wanted}${wanted === 'f32' ? '' : ` with group size ${plan.groupSize}`} but the model holds ${has}`);
  }
  if (t.dtype === 'f32') return t.data;
  return part === 'values' ? t.q : t.scales;
}

/** The data of one planned weight buffer, as one or more views (one per layer for layered tensors). */
function buffersFor(b: PlannedBuffer, model: Model, plan: Plan, rope: { cos: Float32Array; sin: Float32Array }): ArrayBufferView[] {
  const part: Part = b.name.endsWith('_scales') ? 'scales' : 'values';
  const base = b.name.replace(/_scales$/, '');
  switch (base) {
    case 'token_embedding_table':
      return [tensorPart(model.tokenEmbedding, part, b, plan, base)];
    case 'wcls':
      return [tensorPart(model.classifier, part, b, plan, base)];
    case 'rms_att_weight':
      return model.layers.map((l) => l.rmsAtt);
    case 'rms_ffn_weight':
      return model.layers.map((l) => l.rmsFfn);
    case 'rms_final_weight':
      return [model.rmsFinal];
    case 'rope_cos':
      return [rope.cos];
    case 'rope_sin':
      return [rope.sin];
    case 'wq':
    case 'wk':
    case 'wv':
    case 'wo':
    case 'w1':
    case 'w2':
    case 'w3':
      return model.layers.map((l, i) => tensorPart(l[base], part, b, plan, `layers.${i}.${base}`));
    default:
      throw new Error(`no weights for planned buffer ${b.name}`);
  }
}

/** The data of one planned weight buffer of an integer-mode plan (src/quant/fixed-point.ts). */
function fixedBuffersFor(b: PlannedBuffer, model: FixedModel, tables: FixedTables): ArrayBufferView[] {
  const part: Part = b.name.endsWith('_scales') ? 'scales' : 'values';
  const base = b.name.replace(/_scales$/, '');
  const of = (m: FixedMatrix) => (part === 'values' ? m.q : m.scales);
  switch (base) {
    case 'token_embedding_table':
      return [of(model.tokenEmbedding)];
    case 'wcls':
      return [of(model.classifier)];
    case 'rms_att_weight':
      return model.layers.map((l) => l.rmsAtt);
    case 'rms_ffn_weight':
      return model.layers.map((l) => l.rmsFfn);
    case 'rms_final_weight':
      return [model.rmsFinal];
    case 'rope_cos':
      return [tables.ropeCos];
    case 'rope_sin':
      return [tables.ropeSin];
    case 'exp_table':
      return [tables.exp];
    case 'wq':
    case 'wk':
    case 'wv':
    case 'wo':
    case 'w1':
    case 'w2':
    case 'w3':
      return model.layers.map((l) => of(l[base]));
    default:
      throw new Error(`no weights for planned buffer ${b.name}`);
  }
}

/** The chunks of weights.bin; their total is plan.weightsBytes. */
export function* weightsBlob(plan: Plan, model: Model): Generator<Uint8Array> {
  const rope = buildRopeTables(model.config, plan.seqLen);
  const integer = plan.arithmetic === 'integer' ? { model: toFixedPoint(model), tables: fixedTables(model.config, plan.seqLen) } : undefined;
  let at = 0;
  for (const b of plan.buffers.filter((x) => x.role === 'weights')) {
    if (b.offset > at) yield new Uint8Array(b.offset - at);
    let written = 0;
    const views = integer ? fixedBuffersFor(b, integer.model, integer.tables) : buffersFor(b, model, plan, rope);
    for (const view of views) {
      yield new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      written += view.byteLength;
    }
    if (written !== b.bytes) throw new Error(`${b.name}: planned ${b.bytes} bytes, the model has ${written}`);
    at = b.offset + b.bytes;
  }
  if (plan.weightsBytes > at) yield new Uint8Array(plan.weightsBytes - at);
}
