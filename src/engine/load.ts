/**
 * Resolving and loading what a generation needs: the checkpoint (in the precision asked for) and
 * its tokenizer, found through the model lookup (src/models/locate.ts).
 */
import { basename, dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Model } from '../checkpoint/model.js';
import { readCheckpoint } from '../checkpoint/read.js';
import { findKnownFile } from '../models/registry.js';
import { locateModelFile } from '../models/locate.js';
import { chooseGroupSize, type GroupSizeChoice } from '../quant/group-size.js';
import { dequantizeModel, quantizeModelQ8 } from '../quant/q8.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';

export type WeightsPrecision = 'f32' | 'q8_0';
export const WEIGHTS_PRECISIONS: readonly WeightsPrecision[] = ['f32', 'q8_0'];

export const DEFAULT_MODEL = 'stories260K.bin';

/**
 * The tokenizer that goes with a checkpoint: the known model's tokenizer (tok512.bin for
 * stories260K), else a tokenizer.bin beside the checkpoint, else tokenizer.bin from the lookup.
 */
export function defaultTokenizerFor(modelPath: string): string {
  const known = findKnownFile(basename(modelPath));
  if (known) {
    const beside = join(dirname(modelPath), known.model.tokenizer.name);
    return existsSync(beside) ? beside : known.model.tokenizer.name;
  }
  const beside = join(dirname(modelPath), 'tokenizer.bin');
  return existsSync(beside) ? beside : 'tokenizer.bin';
}

export interface LoadRequest {
  model?: string;
  tokenizer?: string;
  /** Weights precision to run with; default: the checkpoint's own. */
  weights?: WeightsPrecision;
  /** Q8_0 group size; default: chosen for the model (src/quant/group-size.ts). */
  groupSize?: number;
}

export interface Loaded {
  model: Model;
  tokenizer: Tokenizer;
  modelPath: string;
  tokenizerPath: string;
  weights: WeightsPrecision;
  groupSize?: number;
  groupSizeChoice?: GroupSizeChoice;
  /** Milliseconds spent reading and validating the checkpoint. */
  loadMs: number;
}

export function loadForGeneration(req: LoadRequest): Loaded {
  const modelPath = locateModelFile(req.model ?? DEFAULT_MODEL);
  const started = performance.now();
  const checkpoint = readCheckpoint(modelPath);
  const loadMs = performance.now() - started;
  const tokenizerPath = locateModelFile(req.tokenizer ?? defaultTokenizerFor(modelPath));
  const tokenizer = Tokenizer.read(tokenizerPath, checkpoint.config.vocabSize);

  const own: WeightsPrecision = checkpoint.format === 'v2' ? 'q8_0' : 'f32';
  const weights = req.weights ?? own;
  if (weights === 'f32') {
    if (req.groupSize !== undefined) {
      throw new UserError(`--group-size ${req.groupSize} applies to Q8_0 weights; add --weights q8_0 to quantize ${basename(modelPath)}.`, 2);
    }
    const model = checkpoint.format === 'v2' ? dequantizeModel(checkpoint) : checkpoint;
    return { model, tokenizer, modelPath, tokenizerPath, weights, loadMs };
  }
  if (req.groupSize !== undefined && (!Number.isInteger(req.groupSize) || req.groupSize < 1)) {
    throw new UserError(`--group-size must be a positive integer, got ${req.groupSize}.`, 2);
  }
  const fileGroupSize = checkpoint.format === 'v2' ? checkpointGroupSize(checkpoint) : undefined;
  const choice = req.groupSize === undefined && fileGroupSize === undefined ? chooseGroupSize(checkpoint.config) : undefined;
  const groupSize = req.groupSize ?? fileGroupSize ?? choice!.groupSize;
  const model = quantizeModelQ8(checkpoint, groupSize);
  return { model, tokenizer, modelPath, tokenizerPath, weights, groupSize, groupSizeChoice: choice, loadMs };
}

function checkpointGroupSize(model: Model): number | undefined {
  const t = model.layers[0]?.wq ?? model.tokenEmbedding;
  return t.dtype === 'q8_0' ? t.groupSize : undefined;
}
