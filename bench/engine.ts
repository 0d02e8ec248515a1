/** Reference engine: tokens per second on stories260K (fp32 and Q8_0), and checkpoint load time. */
import { readFileSync } from 'node:fs';
import { readCheckpoint } from '../src/checkpoint/read.js';
import { generate } from '../src/engine/generate.js';
import { loadForGeneration } from '../src/engine/load.js';
import { Sampler } from '../src/engine/sampler.js';
import { Transformer } from '../src/engine/transformer.js';
import { locateModelFile } from '../src/models/locate.js';
import { measure, report } from './harness.js';

function tokensPerRun(weights: 'f32' | 'q8_0', groupSize?: number) {
  const loaded = loadForGeneration({ model: 'stories260K.bin', weights, groupSize });
  const prompt = loaded.tokenizer.encode('Once upon a time', true, false);
  return () => {
    const transformer = new Transformer(loaded.model);
    const sampler = new Sampler(loaded.model.config.vocabSize, { temperature: 0, topp: 0.9, seed: 1 });
    let steps = 0;
    for (const _ of generate(transformer, sampler, prompt, 256)) steps++;
    return steps;
  };
}

export function benchEngine(): void {
  const path = locateModelFile('stories260K.bin');
  const read = measure('read the file (readFileSync)', () => void readFileSync(path), { repeats: 21, warmup: 3 });
  const load = measure('read + validate checkpoint', () => void readCheckpoint(path), { repeats: 21, warmup: 3 });
  report('checkpoint loading, stories260K (1.06 MB)', read, [load]);

  const f32 = measure('fp32 weights', tokensPerRun('f32'), { unit: 'tok' });
  const q8 = measure('Q8_0 weights, group size 64 (default)', tokensPerRun('q8_0'), { unit: 'tok' });
  const q8gs4 = measure('Q8_0 weights, group size 4', tokensPerRun('q8_0', 4), { unit: 'tok' });
  report('reference engine, stories260K, 256 steps greedy', f32, [q8, q8gs4]);
}
