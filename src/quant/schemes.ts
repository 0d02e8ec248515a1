/**
 * Quantization schemes: which precision each weight matrix of a model gets.
 *
 * | scheme  | token embedding / classifier | layer matrices (wq wk wv wo w1 w2 w3) |
 * | ------- | ---------------------------- | ------------------------------------- |
 * | f32     | fp32                         | fp32                                  |
 * | q8_0    | Q8_0                         | Q8_0                                  |
 * | q4_0    | Q4_0                         | Q4_0                                  |
 * | mixed   | Q8_0                         | Q4_0                                  |
 *
 * Norms always stay fp32. One group size serves every quantized matrix of the model. `mixed` keeps
 * the embedding and the classifier at 8 bits: every token's logits go through the classifier and
 * every input through the embedding, so their error is the one that shows most (doc/quantization.md
 * has the numbers on stories260K).
 */
import type { Model, Tensor, WeightDType } from '../checkpoint/model.js';
import { chooseGroupSize, type GroupSizeChoice } from './group-size.js';
import { quantizeTensorQ4 } from './q4.js';
import { dequantizeTensor, quantizeTensorQ8 } from './q8.js';

export type QuantScheme = 'f32' | 'q8_0' | 'q4_0' | 'mixed';
export const QUANT_SCHEMES: readonly QuantScheme[] = ['f32', 'q8_0', 'q4_0', 'mixed'];

/** A scheme that quantizes (every one but f32): what `quantize` writes, and what `report` compares with fp32. */
export type QuantizedScheme = Exclude<QuantScheme, 'f32'>;
/** The schemes that quantize, in the order the CLI lists them. */
export const QUANTIZED_SCHEMES: readonly QuantizedScheme[] = ['q8_0', 'q4_0', 'mixed'];

/** Where a matrix sits in the model, which is what a scheme decides by. */
export type MatrixRole = 'embedding' | 'classifier' | 'layer';

/** The precision `scheme` gives a matrix in `role`. */
export function precisionFor(scheme: QuantScheme, role: MatrixRole): WeightDType {
  if (scheme === 'mixed') return role === 'layer' ? 'q4_0' : 'q8_0';
  return scheme;
}

/** What `scheme` does to the matrices, in words for messages and the plan ("mixed: Q8_0 token embedding …"). */
export function describeScheme(scheme: QuantScheme): string {
  switch (scheme) {
    case 'f32':
      return 'fp32';
    case 'q8_0':
      return 'Q8_0 (int8) everywhere';
    case 'q4_0':
      return 'Q4_0 (int4) everywhere';
    case 'mixed':
      return 'mixed: Q8_0 token embedding and classifier, Q4_0 layer matrices';
  }
}

export interface QuantizeOptions {
  /** Group size of every quantized matrix; default: chosen for the model (src/quant/group-size.ts). */
  groupSize?: number;
  /** Called after each matrix with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface QuantizedModel {
  model: Model;
  /** The group size used; undefined for f32. */
  groupSize: number | undefined;
  /** Why the group size was chosen, when it was not given. */
  choice?: GroupSizeChoice;
}

/** `t` in `dtype` (with `groupSize` when quantized): as it is when it already is, else from its fp32 values. */
export function convertTensor(t: Tensor, dtype: WeightDType, groupSize: number | undefined): Tensor {
  if (dtype === 'f32') return dequantizeTensor(t);
  if (t.dtype !== 'f32' && t.dtype === dtype && t.groupSize === groupSize) return t;
  const values = dequantizeTensor(t);
  return dtype === 'q8_0' ? quantizeTensorQ8(values, groupSize as number) : quantizeTensorQ4(values, groupSize as number);
}

/** Number of matrices `quantizeModel` converts (a shared classifier counts once). */
export function matrixCount(model: Model): number {
  return (model.sharedClassifier ? 1 : 2) + 7 * model.layers.length;
}

/**
 * The model with every weight matrix in the precision `scheme` gives it. Norms are kept; a shared
 * classifier stays the same object as the token embedding (a shared table has one precision: the
 * embedding's). Matrices already in the wanted precision and group size are kept as they are; others
 * are quantized from their fp32 (or dequantized) values.
 */
export function quantizeModel(model: Model, scheme: QuantScheme, options: QuantizeOptions = {}): QuantizedModel {
  let groupSize: number | undefined;
  let choice: GroupSizeChoice | undefined;
  if (scheme !== 'f32') {
    if (options.groupSize !== undefined) {
      if (!Number.isInteger(options.groupSize) || options.groupSize < 1) {
        throw new RangeError(`group size must be a positive integer, got ${options.groupSize}`);
      }
      groupSize = options.groupSize;
    } else {
      choice = chooseGroupSize(model.config, scheme);
      groupSize = choice.groupSize;
    }
  }
  const total = matrixCount(model);
  let done = 0;
  const convert = (t: Tensor, role: MatrixRole): Tensor => {
    const out = convertTensor(t, precisionFor(scheme, role), groupSize);
    options.onProgress?.(++done, total);
    return out;
  };
  const tokenEmbedding = convert(model.tokenEmbedding, 'embedding');
  const classifier = model.sharedClassifier ? tokenEmbedding : convert(model.classifier, 'classifier');
  const layers = model.layers.map((layer) => ({
    ...layer,
    wq: convert(layer.wq, 'layer'),
    wk: convert(layer.wk, 'layer'),
    wv: convert(layer.wv, 'layer'),
    wo: convert(layer.wo, 'layer'),
    w1: convert(layer.w1, 'layer'),
    w2: convert(layer.w2, 'layer'),
    w3: convert(layer.w3, 'layer'),
  }));
  return { model: { ...model, tokenEmbedding, classifier, layers }, groupSize, choice };
}

/** Every weight matrix of the model, each with its role. */
export function matricesOf(model: Model): { tensor: Tensor; role: MatrixRole }[] {
  const out: { tensor: Tensor; role: MatrixRole }[] = [{ tensor: model.tokenEmbedding, role: 'embedding' }];
  if (!model.sharedClassifier) out.push({ tensor: model.classifier, role: 'classifier' });
  for (const layer of model.layers) {
    for (const tensor of [layer.wq, layer.wk, layer.wv, layer.wo, layer.w1, layer.w2, layer.w3]) out.push({ tensor, role: 'layer' });
  }
  return out;
}

/**
 * The scheme a model's matrices follow and their common group size, or undefined when they follow
 * none (a file of our own format may give each tensor any precision).
 */
export function schemeOf(model: Model): { scheme: QuantScheme; groupSize: number | undefined } | undefined {
  const matrices = matricesOf(model);
  const sizes = new Set(matrices.map((m) => (m.tensor.dtype === 'f32' ? undefined : m.tensor.groupSize)).filter((g) => g !== undefined));
  if (sizes.size > 1) return undefined;
  const [groupSize] = sizes;
  for (const scheme of QUANT_SCHEMES) {
    if (matrices.every((m) => m.tensor.dtype === precisionFor(scheme, m.role))) return { scheme, groupSize };
  }
  return undefined;
}
