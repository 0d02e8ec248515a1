/**
 * A small report on stories260K, computed once per test run and shared by the report specs
 * (not a spec file: mocha only loads *.spec.js).
 */
import { loadForGeneration } from '../../src/engine/load.js';
import { knownTargets, loadTarget } from '../../src/plan/target.js';
import { compareSchemes, type QuantReport } from '../../src/report/compare.js';

let cached: QuantReport | undefined;

/** stories260K, all three schemes, 4 sequences × 32 tokens, 32 greedy tokens per prompt. */
export function smallReport(): QuantReport {
  if (!cached) {
    const loaded = loadForGeneration({ weights: 'f32' });
    cached = compareSchemes({
      model: loaded.model,
      tokenizer: loaded.tokenizer,
      modelPath: loaded.modelPath,
      tokenizerPath: loaded.tokenizerPath,
      schemes: ['q8_0', 'q4_0', 'mixed'],
      sequences: 4,
      length: 32,
      greedyTokens: 32,
      evalText: {
        path: 'story.txt',
        text: 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.',
      },
      targets: knownTargets().map(loadTarget),
    });
  }
  return cached;
}
