/**
 * llama2-embed's own checkpoint format, for what llama2.c's formats cannot hold: Q4_0 weights, and a
 * precision and group size per tensor (the `mixed` scheme). All numbers little-endian.
 *
 *   header, 64 bytes:
 *     0   char[4]   magic "L2EQ"
 *     4   uint32    version (1)
 *     8   int32 ×7  dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *     36  uint8     shared_classifier (1: the classifier is the token embedding, no wcls tensor)
 *     37  uint8 ×3  zero
 *     40  uint32    tensor_count
 *     44  uint32    alignment of every tensor's data (64)
 *     48  uint8 ×16 zero
 *   tensor table at byte 64: tensor_count entries of 64 bytes
 *     0   char[32]  name, ASCII, NUL-padded ("token_embedding", "layers.3.wq", "rms_final", "wcls")
 *     32  uint8     dtype: 0 f32, 1 q8_0, 2 q4_0
 *     33  uint8     scale dtype: 0 fp32 (the only one in version 1; room for fp16 scales later)
 *     34  uint8 ×2  zero
 *     36  uint32    rows (1 for a norm)
 *     40  uint32    cols
 *     44  uint32    group_size (0 for f32)
 *     48  uint32    offset: where the tensor's data starts in the file, a multiple of the alignment
 *     52  uint32    length of the tensor's data in bytes (values, padding, scales)
 *     56  uint32    scales_offset: where the fp32 scales start in the file (0 for f32)
 *     60  uint8 ×4  zero
 *   data: each tensor at its offset (zero padding before it), as
 *     f32:  rows × cols float32
 *     q8_0: rows × cols int8, zero padding to a multiple of 4 bytes, then the scales
 *     q4_0: rows × ceil(cols / 2) bytes (packing: Q4Tensor in model.ts), zero padding to a
 *           multiple of 4 bytes, then the scales
 *     scales: rows × ceil(cols / group_size) float32, row by row (groups never straddle rows)
 *   The file ends with the last tensor's data.
 *
 * The table lists the tensors of version 1's order (norms, rms_final, token_embedding, the layer
 * matrices, wcls), each exactly once. Every tensor starts on a 64-byte boundary and its scales on a
 * 4-byte one, so a device can use the file as it lies in flash, without copying.
 */
import type { CheckpointHeader, HeaderParams } from './header.js';
import type { Config, LayerWeights, Model, Tensor, WeightDType } from './model.js';
import { groupsPerRow, q4RowBytes } from './model.js';
import { UserError } from '../util/errors.js';
import { float32At, float32Bytes, int8At, int8Bytes } from './bytes.js';
import { arrayAt, checkpointLayout } from './layout.js';
import type { Slot } from './layout.js';
import { MAX_DIMENSION, validateHeaderParams } from './validate.js';

/** "L2EQ" read as a little-endian uint32. */
export const OWN_MAGIC = 0x5145324c;
export const OWN_VERSION = 1;
export const OWN_HEADER_BYTES = 64;
export const OWN_TABLE_ENTRY_BYTES = 64;
export const OWN_ALIGNMENT = 64;
const NAME_BYTES = 32;
const SHARED_CLASSIFIER_OFFSET = 36;

const DTYPE_CODES: Record<WeightDType, number> = { f32: 0, q8_0: 1, q4_0: 2 };
const DTYPES: WeightDType[] = ['f32', 'q8_0', 'q4_0'];

/** One tensor of an own-format file, as its table entry says. */
export interface OwnTensorEntry {
  name: string;
  slot: Slot;
  dtype: WeightDType;
  rows: number;
  cols: number;
  /** 0 for f32. */
  groupSize: number;
  /** Byte offset of the tensor's data in the file. */
  offset: number;
  /** Bytes of the tensor's data (values, padding and scales). */
  bytes: number;
  /** Byte offset of the scales in the file (0 for f32). */
  scalesOffset: number;
}

const count = (n: number): string => n.toLocaleString('en-US');
const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** True when the bytes begin with the magic of our own format. */
export function isOwnFormat(head: Uint8Array): boolean {
  return head.length >= 4 && new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === OWN_MAGIC;
}

/** Bytes of the values of a [rows, cols] tensor stored as `dtype`. */
export function valueBytes(dtype: WeightDType, rows: number, cols: number): number {
  switch (dtype) {
    case 'f32':
      return rows * cols * 4;
    case 'q8_0':
      return rows * cols;
    case 'q4_0':
      return rows * q4RowBytes(cols);
  }
}

/** Where the parts of a tensor lie, given where it starts: the scales after the values, 4-byte aligned. */
function placeTensor(
  dtype: WeightDType,
  rows: number,
  cols: number,
  groupSize: number,
  offset: number,
): { bytes: number; scalesOffset: number } {
  const values = valueBytes(dtype, rows, cols);
  if (dtype === 'f32') return { bytes: values, scalesOffset: 0 };
  const scalesOffset = offset + alignUp(values, 4);
  const scales = rows * groupsPerRow({ cols, groupSize }) * 4;
  return { bytes: scalesOffset - offset + scales, scalesOffset };
}

/** The header and table bytes, before the first tensor. */
export function ownDataStart(tensorCount: number): number {
  return alignUp(OWN_HEADER_BYTES + tensorCount * OWN_TABLE_ENTRY_BYTES, OWN_ALIGNMENT);
}

/**
 * The table of `model` as it will be written: every tensor of version 1's list, in that order, in
 * the precision the model holds it, each at the next 64-byte boundary.
 */
export function ownTensorTable(model: Model): OwnTensorEntry[] {
  const layout = checkpointLayout(model.config, 'v1', model.sharedClassifier);
  let offset = ownDataStart(layout.length);
  return layout.map((e) => {
    const stored = arrayAt(model, e.slot);
    if (stored === undefined) throw new Error(`ownTensorTable: the model has no ${e.name}`);
    const tensor: Tensor = stored instanceof Float32Array ? { dtype: 'f32', rows: e.rows, cols: e.cols, data: stored } : stored;
    const groupSize = tensor.dtype === 'f32' ? 0 : tensor.groupSize;
    offset = alignUp(offset, OWN_ALIGNMENT);
    const entry: OwnTensorEntry = {
      name: e.name,
      slot: e.slot,
      dtype: tensor.dtype,
      rows: e.rows,
      cols: e.cols,
      groupSize,
      offset,
      ...placeTensor(tensor.dtype, e.rows, e.cols, groupSize, offset),
    };
    offset += entry.bytes;
    return entry;
  });
}

function encodeHeader(config: Config, sharedClassifier: boolean, tensorCount: number): Uint8Array {
  const bytes = new Uint8Array(OWN_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, OWN_MAGIC, true);
  view.setUint32(4, OWN_VERSION, true);
  const ints = [config.dim, config.hiddenDim, config.nLayers, config.nHeads, config.nKvHeads, config.vocabSize, config.seqLen];
  ints.forEach((v, i) => view.setInt32(8 + 4 * i, v, true));
  bytes[SHARED_CLASSIFIER_OFFSET] = sharedClassifier ? 1 : 0;
  view.setUint32(40, tensorCount, true);
  view.setUint32(44, OWN_ALIGNMENT, true);
  return bytes;
}

function encodeTable(entries: OwnTensorEntry[]): Uint8Array {
  const bytes = new Uint8Array(entries.length * OWN_TABLE_ENTRY_BYTES);
  const view = new DataView(bytes.buffer);
  entries.forEach((e, i) => {
    const at = i * OWN_TABLE_ENTRY_BYTES;
    if (e.name.length >= NAME_BYTES) throw new Error(`own format: tensor name ${e.name} is longer than ${NAME_BYTES - 1} characters`);
    for (let c = 0; c < e.name.length; c++) bytes[at + c] = e.name.charCodeAt(c);
    bytes[at + 32] = DTYPE_CODES[e.dtype];
    view.setUint32(at + 36, e.rows, true);
    view.setUint32(at + 40, e.cols, true);
    view.setUint32(at + 44, e.groupSize, true);
    view.setUint32(at + 48, e.offset, true);
    view.setUint32(at + 52, e.bytes, true);
    view.setUint32(at + 56, e.scalesOffset, true);
  });
  return bytes;
}

/**
 * The file, chunk by chunk: header, table, then each tensor's padding, values and scales (views of
 * the model's memory). The model must have been checked to be writable (src/checkpoint/write.ts).
 */
export function* ownFormatChunks(model: Model): Generator<Uint8Array> {
  const table = ownTensorTable(model);
  const last = table[table.length - 1];
  if (last.offset + last.bytes > 2 ** 32 - 1) {
    throw new UserError(`the model takes ${count(last.offset + last.bytes)} bytes; the own format's 32-bit offsets stop at 4 GiB.`);
  }
  yield encodeHeader(model.config, model.sharedClassifier, table.length);
  yield encodeTable(table);
  let at = ownDataStart(table.length);
  const zeros = new Uint8Array(OWN_ALIGNMENT);
  for (const entry of table) {
    if (entry.offset > at) yield zeros.subarray(0, entry.offset - at);
    const stored = arrayAt(model, entry.slot) as Tensor | Float32Array;
    if (stored instanceof Float32Array) {
      yield float32Bytes(stored);
    } else if (stored.dtype === 'f32') {
      yield float32Bytes(stored.data);
    } else {
      const values = stored.dtype === 'q8_0' ? int8Bytes(stored.q) : stored.q;
      yield values;
      const pad = entry.scalesOffset - entry.offset - values.length;
      if (pad > 0) yield zeros.subarray(0, pad);
      yield float32Bytes(stored.scales);
    }
    at = entry.offset + entry.bytes;
  }
}

// ---- reading ------------------------------------------------------------------------------------

/** How many bytes from the start of the file the header and table take, as far as `head` tells (at least the fixed header). */
export function ownHeaderLength(head: Uint8Array): number {
  if (head.length < OWN_HEADER_BYTES) return OWN_HEADER_BYTES;
  const tensors = new DataView(head.buffer, head.byteOffset, OWN_HEADER_BYTES).getUint32(40, true);
  return OWN_HEADER_BYTES + Math.min(tensors, MAX_TABLE_ENTRIES) * OWN_TABLE_ENTRY_BYTES;
}

/** More table entries than any config we accept can need: a damaged count is not read further. */
const MAX_TABLE_ENTRIES = 1 << 16;

function damaged(path: string, what: string): UserError {
  return new UserError(
    `${path}: a llama2-embed checkpoint (magic "L2EQ") whose ${what}. The file is damaged: write it again with llama2-embed quantize.`,
  );
}

function readName(head: Uint8Array, at: number): string {
  let name = '';
  for (let c = 0; c < NAME_BYTES && head[at + c] !== 0; c++) name += String.fromCharCode(head[at + c]);
  return name;
}

/**
 * Reads and checks the header and tensor table of an own-format file from its first bytes (`head`,
 * at least `ownHeaderLength(head)` of them unless the file is shorter) and its size: the config, the
 * table against the tensors the config implies (names, order, shapes, precisions, group sizes), and
 * every tensor's place (aligned, in order, inside the file, the file ending with the last one).
 */
export function parseOwnHeader(path: string, head: Uint8Array, fileBytes: number): CheckpointHeader {
  if (fileBytes < OWN_HEADER_BYTES || head.length < OWN_HEADER_BYTES) {
    throw new UserError(
      `${path}: the file is too short for a llama2-embed checkpoint: expected at least its ${OWN_HEADER_BYTES}-byte header, found ` +
        `${fileBytes} bytes. The copy was probably interrupted: copy or write it again.`,
    );
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = view.getUint32(4, true);
  if (version !== OWN_VERSION) {
    throw new UserError(
      `${path}: a llama2-embed checkpoint (magic "L2EQ") of version ${version}; this version of llama2-embed reads version ` +
        `${OWN_VERSION}. Write it again with this llama2-embed (llama2-embed quantize), or update llama2-embed.`,
    );
  }
  const int = (i: number): number => view.getInt32(8 + 4 * i, true);
  const params: HeaderParams = {
    dim: int(0),
    hidden_dim: int(1),
    n_layers: int(2),
    n_heads: int(3),
    n_kv_heads: int(4),
    vocab_size: int(5),
    seq_len: int(6),
  };
  validateHeaderParams(path, params, 'own', head);
  const flag = head[SHARED_CLASSIFIER_OFFSET];
  if (flag !== 0 && flag !== 1) throw damaged(path, `shared_classifier byte (offset ${SHARED_CLASSIFIER_OFFSET}) is ${flag}, not 0 or 1`);
  const sharedClassifier = flag === 1;
  const alignment = view.getUint32(44, true);
  if (alignment !== OWN_ALIGNMENT)
    throw damaged(path, `header gives the tensor alignment as ${alignment}, where version 1 uses ${OWN_ALIGNMENT}`);
  const config: Config = {
    dim: params.dim,
    hiddenDim: params.hidden_dim,
    nLayers: params.n_layers,
    nHeads: params.n_heads,
    nKvHeads: params.n_kv_heads,
    vocabSize: params.vocab_size,
    seqLen: params.seq_len,
  };
  const expected = checkpointLayout(config, 'v1', sharedClassifier);
  const tensorCount = view.getUint32(40, true);
  if (tensorCount !== expected.length) {
    throw damaged(
      path,
      `table lists ${count(tensorCount)} tensors, but its config (${config.nLayers} layers, ` +
        `${sharedClassifier ? 'shared' : 'separate'} classifier) has ${expected.length}`,
    );
  }
  const tableEnd = OWN_HEADER_BYTES + tensorCount * OWN_TABLE_ENTRY_BYTES;
  if (fileBytes < tableEnd || head.length < tableEnd) {
    throw new UserError(
      `${path}: the file is too short for its llama2-embed header: its tensor table of ${tensorCount} entries ends at byte ` +
        `${count(tableEnd)}, but the file has ${count(fileBytes)} bytes. The copy was probably interrupted: copy or write it again.`,
    );
  }
  const tensors = expected.map((e, i) => readEntry(path, head, view, i, e.name, e.slot, e.rows, e.cols, fileBytes));
  let previousEnd = ownDataStart(tensorCount);
  for (const t of tensors) {
    if (t.offset < previousEnd) {
      throw damaged(
        path,
        `tensor ${t.name} starts at byte ${count(t.offset)}, inside the table or the tensor before it (which ends at ${count(previousEnd)})`,
      );
    }
    previousEnd = t.offset + t.bytes;
  }
  const sizes = new Set(tensors.filter((t) => t.dtype !== 'f32').map((t) => t.groupSize));
  const groupSize = sizes.size === 1 ? [...sizes][0] : undefined;
  if (fileBytes > previousEnd) {
    throw new UserError(
      `${path}: the file has ${count(fileBytes)} bytes, but its tensor table accounts for ${count(previousEnd)}: ` +
        `${count(fileBytes - previousEnd)} trailing bytes. The file is damaged or not a llama2-embed checkpoint: write it again.`,
    );
  }
  return { format: 'own', config, sharedClassifier, groupSize, fileBytes, expectedBytes: previousEnd, tensors };
}

/** Reads table entry `index` and checks it against the tensor expected there. */
function readEntry(
  path: string,
  head: Uint8Array,
  view: DataView,
  index: number,
  name: string,
  slot: Slot,
  rows: number,
  cols: number,
  fileBytes: number,
): OwnTensorEntry {
  const at = OWN_HEADER_BYTES + index * OWN_TABLE_ENTRY_BYTES;
  const found = readName(head, at);
  if (found !== name) {
    throw damaged(
      path,
      `tensor table entry ${index} is named ${JSON.stringify(found)}, where ${JSON.stringify(name)} belongs (version 1 lists the tensors in a fixed order)`,
    );
  }
  const code = head[at + 32];
  const dtype = DTYPES[code];
  if (dtype === undefined) throw damaged(path, `tensor ${name} has dtype code ${code}; known codes are 0 (f32), 1 (q8_0) and 2 (q4_0)`);
  const scaleCode = head[at + 33];
  if (scaleCode !== 0) throw damaged(path, `tensor ${name} has scale dtype code ${scaleCode}; version 1 stores fp32 scales only (code 0)`);
  const isNorm = slot.kind === 'layerNorm' || slot.kind === 'rmsFinal';
  if (isNorm && dtype !== 'f32') throw damaged(path, `norm ${name} is stored as ${dtype}; norms are always f32`);
  const storedRows = view.getUint32(at + 36, true);
  const storedCols = view.getUint32(at + 40, true);
  if (storedRows !== rows || storedCols !== cols) {
    throw damaged(
      path,
      `tensor ${name} is [${storedRows}, ${storedCols}] in the table, but the config in its header makes it [${rows}, ${cols}]`,
    );
  }
  const groupSize = view.getUint32(at + 44, true);
  if (dtype === 'f32' ? groupSize !== 0 : groupSize < 1 || groupSize > MAX_DIMENSION) {
    throw damaged(
      path,
      `tensor ${name} (${dtype}) has group size ${groupSize}; expected ${dtype === 'f32' ? '0 for f32' : `1 to ${count(MAX_DIMENSION)}`}`,
    );
  }
  const offset = view.getUint32(at + 48, true);
  const bytes = view.getUint32(at + 52, true);
  const scalesOffset = view.getUint32(at + 56, true);
  if (offset % OWN_ALIGNMENT !== 0)
    throw damaged(path, `tensor ${name} starts at byte ${count(offset)}, not on a ${OWN_ALIGNMENT}-byte boundary`);
  if (offset + bytes > fileBytes) {
    throw new UserError(
      `${path}: tensor ${name} lies at bytes ${count(offset)} to ${count(offset + bytes)} by its table entry, but the file has only ` +
        `${count(fileBytes)} bytes. The file is truncated, probably by an interrupted copy: copy or write it again.`,
    );
  }
  const place = placeTensor(dtype, rows, cols, groupSize, offset);
  if (bytes !== place.bytes || scalesOffset !== place.scalesOffset) {
    const scalesAt = (at: number): string =>
      dtype === 'f32' ? (at === 0 ? 'no scales' : `scales at ${count(at)}`) : `scales ${count(at - offset)} bytes in`;
    throw damaged(
      path,
      `tensor ${name} (${dtype} [${rows}, ${cols}]${groupSize ? `, group size ${groupSize}` : ''}) is given ${count(bytes)} bytes with ` +
        `${scalesAt(scalesOffset)}, where it takes ${count(place.bytes)} bytes with ${scalesAt(place.scalesOffset)}`,
    );
  }
  return { name, slot, dtype, rows, cols, groupSize, offset, bytes, scalesOffset };
}

/** The tensor a checked table entry describes, over the file's bytes (views where aligned). */
function decodeTensor(e: OwnTensorEntry, bytes: Uint8Array): Tensor {
  const { rows, cols } = e;
  switch (e.dtype) {
    case 'f32':
      return { dtype: 'f32', rows, cols, data: float32At(bytes, e.offset, rows * cols) };
    case 'q8_0':
      return { dtype: 'q8_0', rows, cols, groupSize: e.groupSize, q: int8At(bytes, e.offset, rows * cols), scales: scalesOf(e, bytes) };
    case 'q4_0': {
      const q = bytes.subarray(e.offset, e.offset + valueBytes('q4_0', rows, cols));
      return { dtype: 'q4_0', rows, cols, groupSize: e.groupSize, q, scales: scalesOf(e, bytes) };
    }
  }
}

function scalesOf(e: OwnTensorEntry, bytes: Uint8Array): Float32Array {
  return float32At(bytes, e.scalesOffset, e.rows * groupsPerRow({ cols: e.cols, groupSize: e.groupSize }));
}

/** The Model of an own-format file whose header `parseOwnHeader` has read and checked. */
export function decodeOwnWeights(header: CheckpointHeader, bytes: Uint8Array): Model {
  const { config, sharedClassifier } = header;
  const layers: Partial<LayerWeights>[] = Array.from({ length: config.nLayers }, () => ({}));
  let tokenEmbedding: Tensor | undefined;
  let classifier: Tensor | undefined;
  let rmsFinal: Float32Array | undefined;
  for (const entry of header.tensors ?? []) {
    const tensor = decodeTensor(entry, bytes);
    const vector = (): Float32Array => (tensor as { data: Float32Array }).data;
    const slot = entry.slot;
    switch (slot.kind) {
      case 'tokenEmbedding':
        tokenEmbedding = tensor;
        break;
      case 'classifier':
        classifier = tensor;
        break;
      case 'rmsFinal':
        rmsFinal = vector();
        break;
      case 'layerNorm':
        layers[slot.layer][slot.norm] = vector();
        break;
      case 'layerMatrix':
        layers[slot.layer][slot.matrix] = tensor;
        break;
      case 'freqCis':
        break;
    }
  }
  if (!tokenEmbedding || !rmsFinal) throw new Error('decodeOwnWeights: the table lacks the embedding or the final norm');
  return {
    config,
    format: 'own',
    tokenEmbedding,
    layers: layers as LayerWeights[],
    rmsFinal,
    classifier: sharedClassifier ? tokenEmbedding : (classifier as Tensor),
    sharedClassifier,
  };
}
