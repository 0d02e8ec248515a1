/** Runs the reference engine the way a generated program runs, for comparisons in tests. */
import type { Model } from '../../src/checkpoint/model.js';
import type { ClassifierLayout } from '../../src/engine/forward-steps.js';
import type { KvWindow } from '../../src/engine/kv-window.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { generate } from '../../src/engine/generate.js';
import { Sampler, type SamplerSettings } from '../../src/engine/sampler.js';
import { Transformer } from '../../src/engine/transformer.js';
import { IntTransformer } from '../../src/engine/transformer-int.js';
import type { Arithmetic } from '../../src/plan/plan.js';
import { modelPath } from './fixtures.js';

export interface EngineRun {
  /** `P <id>` / `G <id>` lines, as `generate --format ids` and the generated programs print. */
  idLines: string[];
  /** float32 bit patterns of the logits at the first `logitPositions` positions. */
  logitBits: Uint32Array[];
}

export interface EngineOptions {
  /** The integer mode's engine instead of the float one. */
  arithmetic?: Arithmetic;
  /** A shorter context than the model's (as a build that fits a board has). */
  seqLen?: number;
  /** Integer arithmetic: the classifier in row blocks, run by the sampler, as a build whose logits do not fit its SRAM. */
  classifier?: ClassifierLayout;
  /** A bounded KV cache (--kv-window), as a build with that option keeps. */
  kvWindow?: KvWindow;
}

export function runEngine(
  model: Model,
  promptIds: number[],
  steps: number,
  sampling: SamplerSettings,
  logitPositions = 0,
  options: EngineOptions = {},
): EngineRun {
  const transformer =
    options.arithmetic === 'integer'
      ? new IntTransformer(model, options.seqLen, { classifier: options.classifier, kvWindow: options.kvWindow })
      : new Transformer(model, options.seqLen, options.kvWindow);
  const sampler = new Sampler(model.config.vocabSize, sampling);
  const idLines = promptIds.map((id) => `P ${id}`);
  const logitBits: Uint32Array[] = [];
  const original = transformer.forward.bind(transformer);
  transformer.forward = (token: number, pos: number) => {
    const logits = original(token, pos);
    if (pos < logitPositions) logitBits.push(new Uint32Array(Float32Array.from(logits).buffer));
    return logits;
  };
  for (const step of generate(transformer, sampler, promptIds, steps)) if (!step.fromPrompt) idLines.push(`G ${step.next}`);
  return { idLines, logitBits };
}

/** Splits a generated program's `--format ids --dump-logits N` output into id lines and logits. */
export function parseProgramOutput(stdout: string): EngineRun {
  const idLines: string[] = [];
  const logitBits: Uint32Array[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('L ')) logitBits.push(Uint32Array.from(line.split(' ').slice(2), (h) => parseInt(h, 16)));
    else if (line.startsWith('P ') || line.startsWith('G ')) idLines.push(line);
  }
  return { idLines, logitBits };
}

/**
 * What the RP2040's default build (stories260K, Q8_0, integer kernels) says after `prompt`, greedy:
 * its id lines, the ids, and their text, for the tests that talk to an emulated board.
 */
export function defaultPicoStory(prompt: string, steps: number): { idLines: string[]; ids: number[]; text: string } {
  const loaded = loadForGeneration({ model: modelPath('stories260K.bin'), tokenizer: modelPath('tok512.bin'), weights: 'q8_0' });
  const { idLines } = runEngine(
    loaded.model,
    loaded.tokenizer.encode(prompt, true, false),
    steps,
    { temperature: 0, topp: 0.9, seed: 1 },
    0,
    { arithmetic: 'integer' },
  );
  const ids = idLines.map((l) => Number(l.slice(2)));
  return { idLines, ids, text: loaded.tokenizer.decodeText(ids) };
}

/** The `{"v":1,"type":"token",…}` lines of `monitor --json` as `P <id>` / `G <id>` lines. */
export function monitorJsonIdLines(json: string): string[] {
  return json
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; token: number; generated: boolean })
    .filter((m) => m.type === 'token')
    .map((m) => `${m.generated ? 'G' : 'P'} ${m.token}`);
}
