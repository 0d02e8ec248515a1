/**
 * The header of a llama2.c checkpoint: telling the three formats apart, reading and checking the
 * model's dimensions, and writing them back.
 *
 *   v0:     7 × int32  dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *           (vocab_size < 0: the classifier is stored, not shared; its absolute value is the vocabulary)
 *   v1, v2: uint32 magic 0x616b3432 ("ak42"), int32 version, the 7 int32s (vocab_size positive),
 *           uint8 shared_classifier at byte 36, v2 only: int32 group_size at byte 37 (unaligned);
 *           zeros up to byte 256
 *   own:    llama2-embed's format, magic "L2EQ": a 64-byte header and a tensor table, read by
 *           own-format.ts
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { CheckpointFormat, Config } from './model.js';
import { UserError, describeError } from '../util/errors.js';
import { describeFileKind } from '../util/paths.js';
import { CHECKPOINT_MAGIC, V0_HEADER_BYTES, VERSIONED_HEADER_BYTES, checkpointBytes, headerBytes } from './layout.js';
import { MAX_DIMENSION, validateHeaderParams } from './validate.js';
import { isOwnFormat, ownHeaderLength, parseOwnHeader } from './own-format.js';
import type { OwnTensorEntry } from './own-format.js';

/** The seven header int32s, under llama2.c's names, exactly as stored (v0's vocab_size may be negative). */
export interface HeaderParams {
  dim: number;
  hidden_dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  vocab_size: number;
  seq_len: number;
}

/** What `readCheckpointHeader` learns about a file. */
export interface CheckpointHeader {
  format: CheckpointFormat;
  config: Config;
  sharedClassifier: boolean;
  /** v2; own format: the group size when every quantized tensor has the same one. */
  groupSize?: number;
  fileBytes: number;
  /** The size the header implies. */
  expectedBytes: number;
  /** Own format only: its tensor table, checked against the config. */
  tensors?: OwnTensorEntry[];
}

const SHARED_CLASSIFIER_OFFSET = 36;
const GROUP_SIZE_OFFSET = 37;

/** The UserError for a file that cannot be opened or read. */
export function fileError(path: string, err: unknown): UserError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new UserError(`${path}: no such file; expected a llama2.c checkpoint (.bin). Check the path.`);
  if (code === 'EISDIR') return new UserError(`${path}: is a directory; expected a llama2.c checkpoint (.bin) file.`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`${path}: permission denied; make the file readable.`);
  return new UserError(`${path}: cannot read the file: ${describeError(err)}`);
}

/** Reads a file's first `maxBytes` bytes and its size. */
function readHead(path: string, maxBytes: number): { head: Uint8Array; fileBytes: number } {
  let fd: number;
  try {
    // a FIFO would block the open itself, and /dev/zero never ends: only regular files are read
    const kind = statSync(path);
    if (!kind.isFile() && !kind.isDirectory())
      throw new UserError(`${path}: is ${describeFileKind(kind)}, expected a llama2.c checkpoint (.bin), a regular file.`);
    fd = openSync(path, 'r');
  } catch (err) {
    throw err instanceof UserError ? err : fileError(path, err);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw fileError(path, { code: 'EISDIR' });
    const head = new Uint8Array(Math.min(maxBytes, stat.size));
    let got = 0;
    while (got < head.length) {
      const n = readSync(fd, head, got, head.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { head: head.subarray(0, got), fileBytes: stat.size };
  } catch (err) {
    throw err instanceof UserError ? err : fileError(path, err);
  } finally {
    closeSync(fd);
  }
}

/** Reads and checks the header of a checkpoint file without reading its weights. */
export function readCheckpointHeader(path: string): CheckpointHeader {
  let { head, fileBytes } = readHead(path, VERSIONED_HEADER_BYTES);
  // our own format's header goes on with a tensor table of any length
  if (isOwnFormat(head) && ownHeaderLength(head) > head.length) ({ head, fileBytes } = readHead(path, ownHeaderLength(head)));
  return parseCheckpointHeader(path, head, fileBytes);
}

function truncatedHeader(path: string, fileBytes: number, format: CheckpointFormat): UserError {
  const what = format === 'v0' ? 'a legacy v0 header (7 int32 = 28 bytes)' : `a ${VERSIONED_HEADER_BYTES}-byte version 1/2 header`;
  return new UserError(
    `${path}: the file is too short to be a llama2.c checkpoint: expected at least ${what}, found ${fileBytes} bytes. ` +
      'The download or copy was probably interrupted: get the file again.',
  );
}

/**
 * Tells the format from the first bytes of a file and checks the header: `head` holds up to 256
 * bytes, or for our own format the header and its whole tensor table (`ownHeaderLength`).
 * `fileBytes` is the whole file's size.
 */
export function parseCheckpointHeader(path: string, head: Uint8Array, fileBytes: number): CheckpointHeader {
  if (fileBytes === 0) {
    throw new UserError(`${path}: the file is empty (0 bytes); expected a llama2.c checkpoint. Download or export it again.`);
  }
  if (isOwnFormat(head)) return parseOwnHeader(path, head, fileBytes);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const versioned = head.length >= 4 && view.getUint32(0, true) === CHECKPOINT_MAGIC;
  let format: CheckpointFormat = 'v0';
  if (versioned) {
    if (head.length < 8) throw truncatedHeader(path, fileBytes, 'v1');
    const version = view.getInt32(4, true);
    if (version !== 1 && version !== 2) {
      throw new UserError(
        `${path}: a llama2.c checkpoint (magic "ak42") of version ${version}; this tool reads versions 1 (fp32) and ` +
          "2 (Q8_0), and legacy v0 files without magic. Export the model again with llama2.c's export.py --version 0, 1 or 2.",
      );
    }
    format = version === 1 ? 'v1' : 'v2';
  }
  if (head.length < headerBytes(format)) throw truncatedHeader(path, fileBytes, format);

  const at = versioned ? 8 : 0;
  const int = (i: number): number => view.getInt32(at + 4 * i, true);
  const params: HeaderParams = {
    dim: int(0),
    hidden_dim: int(1),
    n_layers: int(2),
    n_heads: int(3),
    n_kv_heads: int(4),
    vocab_size: int(5),
    seq_len: int(6),
  };
  validateHeaderParams(path, params, format, head);

  let sharedClassifier = params.vocab_size > 0;
  let groupSize: number | undefined;
  if (versioned) {
    const flag = head[SHARED_CLASSIFIER_OFFSET];
    if (flag !== 0 && flag !== 1) {
      throw new UserError(
        `${path}: the shared_classifier byte (offset ${SHARED_CLASSIFIER_OFFSET}) is ${flag}; expected 0 or 1. ` +
          'The header is damaged: export the model again.',
      );
    }
    sharedClassifier = flag === 1;
  }
  if (format === 'v2') {
    groupSize = view.getInt32(GROUP_SIZE_OFFSET, true);
    if (groupSize <= 0 || groupSize > MAX_DIMENSION) {
      throw new UserError(
        `${path}: version 2 (Q8_0) header with group size ${groupSize} (int32 at byte ${GROUP_SIZE_OFFSET}); expected a ` +
          `positive group size that divides dim ${params.dim} and hidden_dim ${params.hidden_dim}. The header is ` +
          'damaged: export the model again.',
      );
    }
  }
  const config: Config = {
    dim: params.dim,
    hiddenDim: params.hidden_dim,
    nLayers: params.n_layers,
    nHeads: params.n_heads,
    nKvHeads: params.n_kv_heads,
    vocabSize: Math.abs(params.vocab_size),
    seqLen: params.seq_len,
  };
  const expectedBytes = checkpointBytes(config, format, sharedClassifier, groupSize);
  return { format, config, sharedClassifier, groupSize, fileBytes, expectedBytes };
}

/** The header bytes of a llama2.c checkpoint (v0, v1, v2; our own format writes its own, own-format.ts). */
export function encodeCheckpointHeader(
  format: CheckpointFormat,
  config: Config,
  sharedClassifier: boolean,
  groupSize?: number,
): Uint8Array {
  if (format === 'own') throw new Error("encodeCheckpointHeader: the own format's header is written by own-format.ts");
  const bytes = new Uint8Array(format === 'v0' ? V0_HEADER_BYTES : VERSIONED_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  let at = 0;
  if (format !== 'v0') {
    view.setUint32(0, CHECKPOINT_MAGIC, true);
    view.setInt32(4, format === 'v1' ? 1 : 2, true);
    at = 8;
  }
  const vocab = format === 'v0' && !sharedClassifier ? -config.vocabSize : config.vocabSize;
  const ints = [config.dim, config.hiddenDim, config.nLayers, config.nHeads, config.nKvHeads, vocab, config.seqLen];
  ints.forEach((v, i) => view.setInt32(at + 4 * i, v, true));
  if (format !== 'v0') bytes[SHARED_CLASSIFIER_OFFSET] = sharedClassifier ? 1 : 0;
  if (format === 'v2') view.setInt32(GROUP_SIZE_OFFSET, groupSize as number, true);
  return bytes;
}
