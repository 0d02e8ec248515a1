/**
 * The checks a checkpoint must pass, each failing with a UserError that names the file, says what
 * was expected and what was found, and what to do about it.
 */
import type { CheckpointFormat, Config, Model } from './model.js';
import type { CheckpointHeader, HeaderParams } from './header.js';
import { groupsPerRow } from './model.js';
import { UserError } from '../util/errors.js';
import { describeIfTokenizer, identifyForeignFile } from './identify.js';
import { arrayAt, checkpointLayout, classifierBytes, describeFormat } from './layout.js';

/** Largest value accepted for any header dimension: anything above is a damaged or foreign file. */
export const MAX_DIMENSION = 1 << 20;

/** Largest file we read: `fs.readFileSync` stops at 2 GiB, and so do we. */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1;

const count = (n: number): string => n.toLocaleString('en-US');

/** A header's fields as read, `name value` joined by commas (llama2.c's names), for messages. */
export function describeParams(p: HeaderParams): string {
  return Object.entries(p)
    .map(([name, value]) => `${name} ${value}`)
    .join(', ');
}

/** A config in llama2.c's field names (dim 64, hidden_dim 172, …), on one line, for messages. */
export function describeConfig(c: Config): string {
  return (
    `dim ${c.dim}, hidden_dim ${c.hiddenDim}, n_layers ${c.nLayers}, n_heads ${c.nHeads}, ` +
    `n_kv_heads ${c.nKvHeads}, vocab_size ${c.vocabSize}, seq_len ${c.seqLen}`
  );
}

/** What is wrong with a header's dimensions (empty when nothing is). */
export function headerProblems(p: HeaderParams, format: CheckpointFormat): string[] {
  const problems: string[] = [];
  for (const [name, stored] of Object.entries(p)) {
    // In v0 a negative vocab_size only says that the classifier is stored separately.
    const value = name === 'vocab_size' && format === 'v0' ? Math.abs(stored) : stored;
    if (value <= 0) {
      const why = name === 'vocab_size' && format !== 'v0' ? ' (v1/v2 files store it positive)' : '';
      problems.push(`${name} is ${stored}, expected a positive number${why}`);
    } else if (value > MAX_DIMENSION) {
      problems.push(`${name} is ${count(stored)}, implausibly large (the limit is ${count(MAX_DIMENSION)})`);
    }
  }
  const { dim, n_heads, n_kv_heads } = p;
  const sane = (v: number): boolean => v > 0 && v <= MAX_DIMENSION;
  if (sane(dim) && sane(n_heads)) {
    if (dim % n_heads !== 0) {
      problems.push(`dim ${dim} is not a multiple of n_heads ${n_heads}`);
    } else if ((dim / n_heads) % 2 !== 0) {
      problems.push(`head_size = dim / n_heads = ${dim / n_heads} is odd, but RoPE rotates pairs of values, so it must be even`);
    }
  }
  if (sane(n_heads) && sane(n_kv_heads) && n_heads % n_kv_heads !== 0) {
    problems.push(`n_heads ${n_heads} is not a multiple of n_kv_heads ${n_kv_heads}`);
  }
  return problems;
}

/** Fails unless the header's dimensions describe a model run.c could run. */
export function validateHeaderParams(path: string, p: HeaderParams, format: CheckpointFormat, head: Uint8Array): void {
  const problems = headerProblems(p, format);
  if (problems.length === 0) return;
  // Nonsense dimensions: say what the file is instead, when its first bytes tell.
  const foreign = identifyForeignFile(head);
  if (foreign) throw new UserError(`${path}: not a llama2.c checkpoint. ${foreign}`);
  const tokenizer = describeIfTokenizer(head);
  if (tokenizer) {
    throw new UserError(
      `${path}: not a model checkpoint. ${tokenizer} Read as a model header, its first bytes make no sense ` +
        `(${problems[0]}). ` +
        'Pass the model checkpoint (e.g. stories260K.bin) as the model, and this file as the tokenizer.',
    );
  }
  const readAs =
    format === 'v0'
      ? 'it has no "ak42" magic, so its first 28 bytes were read as a legacy v0 header'
      : `its ${describeFormat(format)} header`;
  throw new UserError(
    `${path}: not a valid llama2.c checkpoint: ${readAs}, which says ${describeParams(p)}. ` +
      `Expected positive dimensions up to ${count(MAX_DIMENSION)}, dim a multiple of n_heads with an even head_size, ` +
      `and n_heads a multiple of n_kv_heads; found: ${problems.join('; ')}. ` +
      'This is not a llama2.c checkpoint, or it is damaged: check the file name, then download or export it again.',
  );
}

/** Fails when the file is not exactly as long as its header says, guessing why where it can. */
export function checkFileSize(path: string, h: CheckpointHeader): void {
  const diff = h.fileBytes - h.expectedBytes;
  if (diff === 0) return;
  const { config, format } = h;
  const classifier = classifierBytes(config, format, h.groupSize);
  const classifierText = `a separate classifier wcls [${config.vocabSize}, ${config.dim}] (${count(classifier)} bytes)`;
  let why: string;
  if (format === 'v0' && h.sharedClassifier && diff === classifier) {
    why =
      `The surplus is exactly ${classifierText}: the sign of vocab_size looks wrong. In legacy v0 files a negative ` +
      `vocab_size (-${config.vocabSize}) marks a stored classifier, but this header says +${config.vocabSize}. ` +
      "Re-export the model with llama2.c's export.py, or negate the sixth header int32.";
  } else if (format === 'v0' && !h.sharedClassifier && diff === -classifier) {
    why =
      `The shortfall is exactly ${classifierText}: the sign of vocab_size looks wrong. A negative vocab_size ` +
      `(-${config.vocabSize}) says a classifier follows the RoPE tables, but the file ends before it; a shared ` +
      'classifier is marked by a positive vocab_size. Re-export the model, or negate the sixth header int32.';
  } else if (format !== 'v0' && h.sharedClassifier && diff === classifier) {
    why = `The surplus is exactly ${classifierText}: the shared_classifier byte (1) looks wrong. Re-export the model.`;
  } else if (format !== 'v0' && !h.sharedClassifier && diff === -classifier) {
    why = `The shortfall is exactly ${classifierText}: the shared_classifier byte (0) looks wrong. Re-export the model.`;
  } else if (diff < 0) {
    why = 'The file is truncated, probably by an interrupted download or copy: get it again.';
  } else {
    why =
      'The file has trailing bytes its header does not account for: it is damaged or not a llama2.c checkpoint. ' +
      'Get or export it again.';
  }
  const sharing = h.sharedClassifier ? 'classifier shared with the token embedding' : 'separate classifier';
  const group = h.groupSize !== undefined ? `, group size ${h.groupSize}` : '';
  throw new UserError(
    `${path}: the file size does not match its header. The ${describeFormat(format)} header (${describeConfig(config)}, ` +
      `${sharing}${group}) implies ${count(h.expectedBytes)} bytes, but the file has ${count(h.fileBytes)} ` +
      `(${count(Math.abs(diff))} ${diff < 0 ? 'missing' : 'too many'}). ${why}`,
  );
}

/** Fails for files too large to read into one buffer. */
export function checkReadableSize(path: string, fileBytes: number): void {
  if (fileBytes <= MAX_CHECKPOINT_BYTES) return;
  throw new UserError(
    `${path}: the file has ${count(fileBytes)} bytes; models above 2 GiB (${count(MAX_CHECKPOINT_BYTES)} bytes) are out of ` +
      'scope for llama2-embed, which targets small models (stories110M is 440 MB). Use a smaller model.',
  );
}

/** A row length of the model's matrices, and which matrices have it. */
interface RowLength {
  name: 'dim' | 'hidden_dim';
  length: number;
  matrices: string;
}

function rowLengths(config: Config): RowLength[] {
  return [
    { name: 'dim', length: config.dim, matrices: 'token_embedding, wq, wk, wv, wo, w1, w3, wcls' },
    { name: 'hidden_dim', length: config.hiddenDim, matrices: 'w2' },
  ];
}

/** The largest power of two that divides every row length (a group size v2 can store). */
export function largestFittingGroupSize(config: Config): number {
  let size = 1;
  while (rowLengths(config).every((r) => r.length % (size * 2) === 0)) size *= 2;
  return size;
}

/**
 * Fails when a v2 group size does not divide every row length. runq.c quantizes each tensor as one
 * flat array, so such groups straddle rows and its matmul (which walks groups within a row) reads
 * wrong scales: llama2.c's export.py makes such files, choosing the group size from dim alone.
 */
export function checkGroupSizeFitsRows(path: string, config: Config, groupSize: number, action: 'read' | 'write'): void {
  const misfits = rowLengths(config).filter((r) => r.length % groupSize !== 0);
  if (misfits.length === 0) return;
  const found = misfits.map((r) => `${r.name} ${r.length} (the row length of ${r.matrices}) is not a multiple of ${groupSize}`).join('; ');
  const fitting = largestFittingGroupSize(config);
  const all = rowLengths(config)
    .map((r) => `${r.name} ${r.length}`)
    .join(' and ');
  if (action === 'read') {
    throw new UserError(
      `${path}: this version 2 (Q8_0) file has group size ${groupSize}, which does not divide every row length: ${found}. ` +
        'The file stores each tensor as one flat run of groups, so here groups straddle rows, and runq.c (and any ' +
        "row-by-row matmul) computes wrong results; llama2.c's export.py makes such files because it checks the " +
        `group size against dim only. Re-export from the fp32 checkpoint with a group size that divides ${all}: ` +
        `the largest power of two that does is ${fitting} (export.py: version2_export(model, path, group_size=${fitting})).`,
    );
  }
  throw new UserError(
    `cannot write ${path} as version 2 (Q8_0): group size ${groupSize} does not divide every row length: ${found}. ` +
      'A v2 file stores each tensor as one flat run of groups, so its groups would straddle rows and runq.c would compute ' +
      `wrong results. Quantize with a group size that divides ${all}: the largest power of two that does is ${fitting}.`,
  );
}

/** Where a weight is not a finite number. */
export interface NonFiniteWeight {
  tensor: string;
  layer?: number;
  part: 'values' | 'scales';
  index: number;
  row: number;
  /** Column of the value, or group within the row for a scale. */
  col: number;
  value: number;
}

function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) return i; // NaN - NaN and Inf - Inf are NaN
  }
  return -1;
}

/** The first NaN or infinity among the model's weights (norms, fp32 values, Q8 scales), in file order. */
export function findNonFinite(model: Model): NonFiniteWeight | undefined {
  // The v1 layout lists every weight once and leaves out the RoPE tables, which run.c never reads.
  for (const entry of checkpointLayout(model.config, 'v1', model.sharedClassifier)) {
    const stored = arrayAt(model, entry.slot);
    if (stored === undefined) continue;
    const layer = entry.slot.kind === 'layerNorm' || entry.slot.kind === 'layerMatrix' ? entry.slot.layer : undefined;
    const found = (part: 'values' | 'scales', values: Float32Array, rowWidth: number): NonFiniteWeight | undefined => {
      const index = firstNonFinite(values);
      if (index < 0) return undefined;
      const row = Math.floor(index / rowWidth);
      return { tensor: entry.name, layer, part, index, row, col: index - row * rowWidth, value: values[index] };
    };
    let hit: NonFiniteWeight | undefined;
    if (stored instanceof Float32Array) hit = found('values', stored, entry.cols);
    else if (stored.dtype === 'f32') hit = found('values', stored.data, stored.cols);
    else hit = found('scales', stored.scales, groupsPerRow(stored));
    if (hit) return hit;
  }
  return undefined;
}

/** Fails when any weight is NaN or infinite. */
export function checkFinite(path: string, model: Model): void {
  const bad = findNonFinite(model);
  if (!bad) return;
  const layer = bad.layer !== undefined ? ` (layer ${bad.layer})` : '';
  const where =
    bad.part === 'values'
      ? `value ${count(bad.index)} (row ${bad.row}, column ${bad.col})`
      : `scale ${count(bad.index)} (row ${bad.row}, group ${bad.col})`;
  throw new UserError(
    `${path}: tensor ${bad.tensor}${layer} holds ${bad.value} at ${where}; expected finite weights. The checkpoint is ` +
      'damaged, or the training run it came from diverged: download or export it again from a healthy training checkpoint.',
  );
}
