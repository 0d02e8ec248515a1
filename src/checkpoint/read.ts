/**
 * Reading a checkpoint (llama2.c's v0, v1 or v2, or our own format) into a Model, checking it on the way.
 *
 * The file is read whole; fp32 arrays are views into that buffer where they are 4-byte aligned
 * (always in v0 and v1) and copies where they are not (v2 scales after an int8 block whose length
 * is not a multiple of 4). A shared classifier is the same object as the token embedding.
 */
import { readFileSync } from 'node:fs';
import type { CheckpointHeader } from './header.js';
import type { LayerWeights, Model, Tensor } from './model.js';
import { float32At, int8At } from './bytes.js';
import { fileError, parseCheckpointHeader, readCheckpointHeader } from './header.js';
import { VERSIONED_HEADER_BYTES, checkpointLayout } from './layout.js';
import { decodeOwnWeights, isOwnFormat, ownHeaderLength } from './own-format.js';
import type { LayoutEntry } from './layout.js';
import { checkFileSize, checkFinite, checkGroupSizeFitsRows, checkReadableSize } from './validate.js';

export { readCheckpointHeader } from './header.js';
export type { CheckpointHeader } from './header.js';
export { checkpointBytes } from './layout.js';

export interface ReadOptions {
  /** Fail on NaN or infinite weights (default true). */
  checkFinite?: boolean;
}

/** Reads and checks a checkpoint file. Every problem with the file is reported as a UserError. */
export function readCheckpoint(path: string, opts: ReadOptions = {}): Model {
  const header = readCheckpointHeader(path);
  // Fail on a bad size before reading what may be hundreds of megabytes.
  checkFileSize(path, header);
  checkReadableSize(path, header.fileBytes);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw fileError(path, err);
  }
  return parseCheckpoint(path, bytes, opts);
}

/** Reads a checkpoint already in memory; `name` is used in messages. */
export function parseCheckpoint(name: string, bytes: Uint8Array, opts: ReadOptions = {}): Model {
  const headLength = isOwnFormat(bytes) ? ownHeaderLength(bytes) : VERSIONED_HEADER_BYTES;
  const header = parseCheckpointHeader(name, bytes.subarray(0, headLength), bytes.length);
  checkFileSize(name, header);
  if (header.format === 'v2') checkGroupSizeFitsRows(name, header.config, header.groupSize as number, 'read');
  const model = header.format === 'own' ? decodeOwnWeights(header, bytes) : decodeWeights(header, bytes);
  if (opts.checkFinite ?? true) checkFinite(name, model);
  return model;
}

/** The array a layout entry describes, as stored in the Model. */
function decodeEntry(entry: LayoutEntry, bytes: Uint8Array, groupSize: number | undefined): Tensor | Float32Array {
  const { rows, cols, offset } = entry;
  const values = rows * cols;
  const isMatrix = entry.slot.kind !== 'layerNorm' && entry.slot.kind !== 'rmsFinal' && entry.slot.kind !== 'freqCis';
  if (entry.storage === 'q8_0') {
    const q = int8At(bytes, offset, values);
    const scales = float32At(bytes, offset + values, entry.scaleCount as number);
    return { dtype: 'q8_0', rows, cols, groupSize: groupSize as number, q, scales };
  }
  const data = float32At(bytes, offset, values);
  return isMatrix ? { dtype: 'f32', rows, cols, data } : data;
}

function decodeWeights(header: CheckpointHeader, bytes: Uint8Array): Model {
  const { config, format, sharedClassifier, groupSize } = header;
  const layers: Partial<LayerWeights>[] = Array.from({ length: config.nLayers }, () => ({}));
  let tokenEmbedding: Tensor | undefined;
  let classifier: Tensor | undefined;
  let rmsFinal: Float32Array | undefined;
  const freqCis: { real?: Float32Array; imag?: Float32Array } = {};

  for (const entry of checkpointLayout(config, format, sharedClassifier, groupSize)) {
    // decodeEntry returns a Tensor for matrices and a Float32Array for norms and RoPE tables.
    const value = decodeEntry(entry, bytes, groupSize);
    const slot = entry.slot;
    switch (slot.kind) {
      case 'tokenEmbedding':
        tokenEmbedding = value as Tensor;
        break;
      case 'classifier':
        classifier = value as Tensor;
        break;
      case 'rmsFinal':
        rmsFinal = value as Float32Array;
        break;
      case 'layerNorm':
        layers[slot.layer][slot.norm] = value as Float32Array;
        break;
      case 'layerMatrix':
        layers[slot.layer][slot.matrix] = value as Tensor;
        break;
      case 'freqCis':
        freqCis[slot.part] = value as Float32Array;
        break;
    }
  }
  if (!tokenEmbedding || !rmsFinal) throw new Error('decodeWeights: the layout lacks the embedding or the final norm');
  const model: Model = {
    config,
    format,
    tokenEmbedding,
    layers: layers as LayerWeights[],
    rmsFinal,
    classifier: sharedClassifier ? tokenEmbedding : (classifier as Tensor),
    sharedClassifier,
  };
  if (freqCis.real && freqCis.imag) model.freqCis = { real: freqCis.real, imag: freqCis.imag };
  return model;
}
