/**
 * How large a model's weights are, and when that is a warning sign. A weight can be finite and
 * still wreck the forward pass: 3e38 times any activation above 1.2 overflows float32, the logits
 * become NaN or ±inf, and sampling returns token 0 (`<unk>`) forever, as run.c does. Trained
 * llama2.c models keep every weight far below 100 (stories260K: 4.43, in rms_final), so a weight
 * past HUGE_WEIGHT is almost certainly damage; we say so rather than refuse, since the file is
 * well-formed and run.c would run it.
 */
import { arrayAt, checkpointLayout } from '../checkpoint/layout.js';
import type { Model } from '../checkpoint/model.js';
import { dequantizeTensor } from './q8.js';

/** Above this magnitude a weight is called suspicious. */
export const HUGE_WEIGHT = 1e4;

export interface LargestWeight {
  /** Tensor name as in the file's layout (`layers.0.wq`, `rms_final`, …). */
  tensor: string;
  /** Index of the value in the tensor (row-major). */
  index: number;
  /** The weight as the forward pass sees it (scale × code for quantized tensors). */
  value: number;
}

/** The weight of largest magnitude in the model (NaN is skipped: checkFinite reports those). */
export function largestWeight(model: Model): LargestWeight {
  let best: LargestWeight = { tensor: '', index: -1, value: 0 };
  for (const entry of checkpointLayout(model.config, 'v1', model.sharedClassifier)) {
    const stored = arrayAt(model, entry.slot);
    if (stored === undefined) continue;
    const values = stored instanceof Float32Array ? stored : dequantizeTensor(stored).data;
    for (let i = 0; i < values.length; i++) {
      if (Math.abs(values[i]) > Math.abs(best.value)) best = { tensor: entry.name, index: i, value: values[i] };
    }
  }
  return best;
}

/** A one-line warning when the largest weight is past HUGE_WEIGHT, else undefined. */
export function hugeWeightWarning(path: string, model: Model): string | undefined {
  const largest = largestWeight(model);
  if (!(Math.abs(largest.value) > HUGE_WEIGHT)) return undefined;
  return (
    `${path}: tensor ${largest.tensor} holds ${largest.value.toPrecision(3)} (value ${largest.index.toLocaleString('en-US')}); ` +
    `trained llama2.c models keep every weight far below ${HUGE_WEIGHT.toExponential(0)}. Weights this large overflow ` +
    'float32 in the forward pass (NaN or infinite logits, then only <unk>): the checkpoint is probably damaged.'
  );
}
