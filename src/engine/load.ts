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
import { checkGroupSizeOption, type GroupSizeChoice } from '../quant/group-size.js';
import { quantizeModel, schemeOf, type QuantScheme } from '../quant/schemes.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';

export const DEFAULT_MODEL = 'stories260K.bin';

/** The Llama 2 vocabulary's size: its tokenizer is llama2.c's tokenizer.bin. */
const LLAMA2_VOCAB_SIZE = 32000;

/**
 * The tokenizer that goes with a checkpoint whose vocab_size is `vocabSize`: the known model's
 * tokenizer (tok512.bin for stories260K), else the file llama2.c names for that vocabulary
 * (`tokenizer.bin` for the Llama 2 vocabulary of 32,000 pieces, `tok<N>.bin` for one of N pieces,
 * as its tinyllamas and `train_vocab.sh` name them), beside the checkpoint or from the model
 * lookup. So a renamed or quantized copy (`stories260K-mixed.bin`) still gets tok512.bin.
 */
export function defaultTokenizerFor(modelPath: string, vocabSize?: number): string {
  const known = findKnownFile(basename(modelPath));
  const byVocab = vocabSize === undefined || vocabSize === LLAMA2_VOCAB_SIZE ? 'tokenizer.bin' : `tok${vocabSize}.bin`;
  const name = known?.file === known?.model.checkpoint ? (known?.model.tokenizer.name ?? byVocab) : byVocab;
  const beside = join(dirname(modelPath), name);
  return existsSync(beside) ? beside : name;
}

export interface LoadRequest {
  model?: string;
  tokenizer?: string;
  /** Weights precision to run with; default: the checkpoint's own. */
  weights?: QuantScheme;
  /** Group size of the quantized weights; default: the file's when it already holds that precision, else chosen for the model (src/quant/group-size.ts). */
  groupSize?: number;
  /** The precision for an fp32 checkpoint when `weights` is not given (a target's default); a quantized checkpoint keeps its own. */
  weightsForF32?: QuantScheme;
}

export interface Loaded {
  model: Model;
  tokenizer: Tokenizer;
  modelPath: string;
  tokenizerPath: string;
  weights: QuantScheme;
  groupSize?: number;
  groupSizeChoice?: GroupSizeChoice;
  /** Milliseconds spent reading and validating the checkpoint. */
  loadMs: number;
}

/**
 * Resolves and loads a checkpoint and its tokenizer, in the precision asked for (generate, report, build):
 * - the model: `request.model` (default stories260K.bin) through the model lookup, a path as it is or
 *   a bare name searched along the model search path (src/models/locate.ts), then read and validated;
 * - the tokenizer: `request.tokenizer`, else the one for the checkpoint's vocab_size (defaultTokenizerFor),
 *   found the same way and required to have exactly vocab_size pieces;
 * - the weights precision: `request.weights`, else `weightsForF32` for an fp32 checkpoint, else the
 *   checkpoint's own scheme ('mixed' when its tensors follow none). The checkpoint is returned as read
 *   when that precision and the group size are what it stores; otherwise it is quantized here, with
 *   `request.groupSize` or one chosen for the model (`groupSizeChoice` says how).
 * `loadMs` times the checkpoint's reading only. Throws a UserError for a file that is missing or invalid,
 * a bad --group-size, or a group size with fp32 weights.
 */
export function loadForGeneration(request: LoadRequest): Loaded {
  checkGroupSizeOption(request.groupSize);
  const modelPath = locateModelFile(request.model ?? DEFAULT_MODEL);
  const started = performance.now();
  const checkpoint = readCheckpoint(modelPath);
  const storedScheme = schemeOf(checkpoint);
  const req =
    request.weights === undefined && storedScheme?.scheme === 'f32' && request.weightsForF32
      ? { ...request, weights: request.weightsForF32 }
      : request;
  const loadMs = performance.now() - started;
  const vocabSize = checkpoint.config.vocabSize;
  const tokenizerPath = locateModelFile(req.tokenizer ?? defaultTokenizerFor(modelPath, vocabSize));
  const tokenizer = Tokenizer.read(tokenizerPath, vocabSize, { model: basename(modelPath) });

  // a checkpoint whose tensors follow no scheme (our own format allows any mix) runs as it is, called 'mixed'
  const stored = storedScheme;
  const weights = req.weights ?? stored?.scheme ?? 'mixed';
  if (weights === 'f32' && req.groupSize !== undefined) {
    throw new UserError(
      `--group-size ${req.groupSize} applies to quantized weights; add --quant q8_0, q4_0 or mixed to quantize ${basename(modelPath)}.`,
      2,
    );
  }
  const asStored =
    (req.weights === undefined && req.groupSize === undefined) ||
    (stored !== undefined && weights === stored.scheme && (req.groupSize === undefined || req.groupSize === stored.groupSize));
  if (asStored) {
    return { model: checkpoint, tokenizer, modelPath, tokenizerPath, weights, groupSize: stored?.groupSize, loadMs };
  }
  const quantized = quantizeModel(checkpoint, weights, { groupSize: req.groupSize });
  return {
    model: quantized.model,
    tokenizer,
    modelPath,
    tokenizerPath,
    weights,
    groupSize: quantized.groupSize,
    groupSizeChoice: quantized.choice,
    loadMs,
  };
}
