/**
 * Writing a Model as a llama2.c checkpoint (v0, v1 or v2) or in our own format (own-format.ts, for
 * Q4_0 and per-tensor precisions). The file is produced chunk by chunk
 * (the header, then one chunk per stored array, each a view of the Model's own memory), and written
 * atomically, so a 440 MB model is never copied into one buffer and readers never see half a file.
 */
import type { CheckpointFormat, Model, Q8Tensor, Tensor } from './model.js';
import { groupsPerRow, q4RowBytes } from './model.js';
import { UserError, describeError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { float32Bytes, int8Bytes } from './bytes.js';
import { precomputeFreqCis } from './freq-cis.js';
import { encodeCheckpointHeader } from './header.js';
import { arrayAt, checkpointLayout, describeFormat } from './layout.js';
import type { LayoutEntry } from './layout.js';
import { ownFormatChunks } from './own-format.js';
import { checkGroupSizeFitsRows, headerProblems } from './validate.js';

/** Writes `model` to `path` in `format`, replacing the file atomically; returns the bytes written. */
export function writeCheckpoint(path: string, model: Model, format: CheckpointFormat): number {
  const chunks = serializeCheckpoint(model, format, path);
  try {
    return writeFileAtomic(path, chunks);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ' The directory does not exist: create it first.' : code === 'ENOSPC' ? ' The disk is full.' : '';
    throw new UserError(`cannot write ${path}: ${describeError(err)}.${hint}`);
  }
}

/**
 * The bytes of `model` as a checkpoint in `format`, in order. Checks that the model can be stored in
 * that format before returning (`name` is used in messages); the chunks are views, valid while the
 * model is unchanged.
 */
export function serializeCheckpoint(model: Model, format: CheckpointFormat, name = 'checkpoint'): Iterable<Uint8Array> {
  const groupSize = checkWritable(name, model, format);
  return format === 'own' ? ownFormatChunks(model) : checkpointChunks(model, format, groupSize);
}

function* checkpointChunks(model: Model, format: CheckpointFormat, groupSize: number | undefined): Generator<Uint8Array> {
  const { config, sharedClassifier } = model;
  yield encodeCheckpointHeader(format, config, sharedClassifier, groupSize);
  const freqCis = format === 'v0' ? freqCisToWrite(model) : undefined;
  for (const entry of checkpointLayout(config, format, sharedClassifier, groupSize)) {
    const stored = entry.slot.kind === 'freqCis' ? freqCis?.[entry.slot.part] : arrayAt(model, entry.slot);
    if (stored instanceof Float32Array) {
      yield float32Bytes(stored);
    } else if (stored?.dtype === 'f32') {
      yield float32Bytes(stored.data);
    } else if (stored?.dtype === 'q8_0') {
      yield int8Bytes(stored.q);
      yield float32Bytes(stored.scales);
    } else {
      throw new Error(`serializeCheckpoint: the model has no ${entry.name}`);
    }
  }
}

/** The model's own RoPE tables when they fit its config (a v0 file round-trips), else freshly computed ones. */
function freqCisToWrite(model: Model): { real: Float32Array; imag: Float32Array } {
  const { config, freqCis } = model;
  const length = (config.seqLen * config.dim) / config.nHeads / 2;
  if (freqCis && freqCis.real.length === length && freqCis.imag.length === length) return freqCis;
  return precomputeFreqCis(config);
}

function describeTensor(t: Tensor): string {
  return t.dtype === 'f32' ? 'f32' : `${t.dtype} (group size ${t.groupSize})`;
}

/** The length of the values array a tensor of this shape must have (Q4_0: packed bytes). */
function valuesLength(t: Tensor): number {
  if (t.dtype === 'f32') return t.data.length;
  return t.q.length;
}

function expectedValuesLength(t: Tensor): number {
  return t.dtype === 'q4_0' ? t.rows * q4RowBytes(t.cols) : t.rows * t.cols;
}

/** A matrix of the model, with the name and shape the file gives it. */
interface NamedMatrix {
  entry: LayoutEntry;
  tensor: Tensor;
}

/**
 * Fails unless `model` can be stored in `format`; returns the group size for v2. Wrong shapes are
 * a program's bug (Error); a precision the format cannot store is the user's choice (UserError).
 * Our own format stores every precision and group size.
 */
function checkWritable(name: string, model: Model, format: CheckpointFormat): number | undefined {
  const { config } = model;
  const problems = headerProblems(
    {
      dim: config.dim,
      hidden_dim: config.hiddenDim,
      n_layers: config.nLayers,
      n_heads: config.nHeads,
      n_kv_heads: config.nKvHeads,
      vocab_size: config.vocabSize,
      seq_len: config.seqLen,
    },
    'v1',
  );
  if (problems.length > 0) {
    throw new UserError(`cannot write ${name}: the model's dimensions are invalid: ${problems.join('; ')}.`);
  }
  const matrices = checkShapes(name, model, format);
  if (format === 'own') return undefined;
  const q4 = matrices.find((m) => m.tensor.dtype === 'q4_0');
  if (q4) {
    throw new UserError(
      `cannot write ${name} as ${describeFormat(format)}: llama2.c's formats have no 4-bit weights, but ${q4.entry.name} is ` +
        `${describeTensor(q4.tensor)}. Write llama2-embed's own format instead (quantize --format own), or quantize to Q8_0.`,
    );
  }
  if (format !== 'v2') {
    const quantized = matrices.find((m) => m.tensor.dtype !== 'f32');
    if (quantized) {
      throw new UserError(
        `cannot write ${name} as ${describeFormat(format)}: that format stores fp32 weights, but ${quantized.entry.name} ` +
          `is ${describeTensor(quantized.tensor)}. Write version 2 (Q8_0) instead, or start from the fp32 model.`,
      );
    }
    return undefined;
  }
  return checkVersion2GroupSize(name, model, matrices);
}

/** Checks that every weight is present with its config's shape; returns the matrices in file order. */
function checkShapes(name: string, model: Model, format: CheckpointFormat): NamedMatrix[] {
  const { config } = model;
  if (model.layers.length !== config.nLayers) {
    throw new Error(`cannot write ${name}: the model has ${model.layers.length} layers, its config says ${config.nLayers}`);
  }
  const matrices: NamedMatrix[] = [];
  // The v1 layout names every weight once.
  for (const entry of checkpointLayout(config, 'v1', model.sharedClassifier)) {
    const stored = arrayAt(model, entry.slot);
    const values = entry.rows * entry.cols;
    if (entry.slot.kind === 'layerNorm' || entry.slot.kind === 'rmsFinal') {
      if (!(stored instanceof Float32Array)) {
        throw new UserError(
          `cannot write ${name} as ${describeFormat(format)}: the norm ${entry.name} is not fp32; every format stores norms as fp32.`,
        );
      }
      if (stored.length !== values) throw new Error(`cannot write ${name}: ${entry.name} has ${stored.length} values, expected ${values}`);
      continue;
    }
    if (stored === undefined || stored instanceof Float32Array) {
      throw new Error(`cannot write ${name}: ${entry.name} is missing or not a tensor`);
    }
    const consistent =
      stored.rows === entry.rows &&
      stored.cols === entry.cols &&
      valuesLength(stored) === expectedValuesLength(stored) &&
      (stored.dtype === 'f32' || (stored.groupSize >= 1 && stored.scales.length === stored.rows * groupsPerRow(stored)));
    if (!consistent) {
      throw new Error(
        `cannot write ${name}: ${entry.name} is [${stored.rows}, ${stored.cols}] ${stored.dtype} with arrays of the wrong ` +
          `length; expected [${entry.rows}, ${entry.cols}]`,
      );
    }
    matrices.push({ entry, tensor: stored });
  }
  return matrices;
}

/** v2: every matrix Q8_0, with one group size that divides every row length. Returns that group size. */
function checkVersion2GroupSize(name: string, model: Model, matrices: NamedMatrix[]): number {
  const unquantized = matrices.find((m) => m.tensor.dtype !== 'q8_0');
  if (unquantized) {
    throw new UserError(
      `cannot write ${name} as version 2: runq.c expects every matrix (token embedding and classifier included) as ` +
        `Q8_0, but ${unquantized.entry.name} is ${describeTensor(unquantized.tensor)}. Quantize the whole model first, ` +
        'or write v0 or v1.',
    );
  }
  const sizes = new Set(matrices.map((m) => (m.tensor as Q8Tensor).groupSize));
  if (sizes.size !== 1) {
    throw new UserError(
      `cannot write ${name} as version 2: its header holds one group size for all tensors, but this model mixes group ` +
        `sizes ${[...sizes].join(', ')}. Quantize every matrix with the same group size.`,
    );
  }
  const [groupSize] = sizes;
  checkGroupSizeFitsRows(name, model.config, groupSize, 'write');
  return groupSize;
}
