/**
 * The first proof of correctness: the reference engine reproduces llama2.c's own outputs
 * (../shared/golden, produced by run.c and runq.c) token for token.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../src/engine/generate.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { Sampler } from '../../src/engine/sampler.js';
import { Transformer } from '../../src/engine/transformer.js';
import { goldenDir, modelPath, readGoldenIds } from '../helpers/fixtures.js';

/** What a golden file name says about how it was made (see ../shared/golden/README.md). */
export function goldenSettings(file: string) {
  const m = /^stories260K_(f32|q8gs(\d+))_(greedy|t([\d.]+)_p([\d.]+)_s(\d+))_(.+)\.ids$/.exec(file);
  if (!m) throw new Error(`unexpected golden file name ${file}`);
  const prompts: Record<string, string> = { empty: '', once_upon_a_time: 'Once upon a time', one_day: 'One day' };
  if (!(m[7] in prompts)) throw new Error(`unknown prompt in ${file}`);
  return {
    weights: m[1] === 'f32' ? ('f32' as const) : ('q8_0' as const),
    groupSize: m[2] ? Number(m[2]) : undefined,
    temperature: m[3] === 'greedy' ? 0 : Number(m[4]),
    topp: m[3] === 'greedy' ? 0.9 : Number(m[5]),
    seed: m[3] === 'greedy' ? 1 : Number(m[6]),
    prompt: prompts[m[7]],
  };
}

export function goldenIdFiles(): string[] {
  return readdirSync(goldenDir()).filter((f) => f.endsWith('.ids'));
}

describe('reference engine against llama2.c goldens', () => {
  it('has golden files to check', () => {
    expect(goldenIdFiles()).to.have.length.of.at.least(5);
  });

  for (const file of goldenIdFiles()) {
    it(`reproduces ${file}`, () => {
      const s = goldenSettings(file);
      const golden = readGoldenIds(file);
      const loaded = loadForGeneration({ model: modelPath('stories260K.bin'), tokenizer: modelPath('tok512.bin'), weights: s.weights, groupSize: s.groupSize });
      const prompt = loaded.tokenizer.encode(s.prompt, true, false);
      expect(prompt).to.deep.equal(golden.prompt);
      const transformer = new Transformer(loaded.model);
      const sampler = new Sampler(loaded.model.config.vocabSize, s);
      const generated: number[] = [];
      for (const step of generate(transformer, sampler, prompt, 256)) if (!step.fromPrompt) generated.push(step.next);
      expect(generated).to.deep.equal(golden.generated);
    });
  }

  it('decodes the greedy fp32 story to llama2.c\'s text', () => {
    const loaded = loadForGeneration({ model: modelPath('stories260K.bin'), tokenizer: modelPath('tok512.bin') });
    const golden = readGoldenIds('stories260K_f32_greedy_once_upon_a_time.ids');
    const ids = [...golden.prompt, ...golden.generated];
    const text = loaded.tokenizer.decodeText(ids);
    expect(`${text}\n`).to.equal(readFileSync(join(goldenDir(), 'stories260K_f32_greedy_once_upon_a_time.txt'), 'utf8'));
  });
});
