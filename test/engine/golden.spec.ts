/**
 * The first proof of correctness: the reference engine reproduces llama2.c's own outputs
 * (test/fixtures/golden, produced by run.c and runq.c) token for token.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../src/engine/generate.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { Sampler } from '../../src/engine/sampler.js';
import { Transformer } from '../../src/engine/transformer.js';
import { goldenDir, modelPath, readGoldenIds } from '../helpers/fixtures.js';
import { goldenIdFiles, goldenSettings } from '../helpers/goldens.js';
import { needs } from '../helpers/needs.js';

describe('llama2.c goldens', () => {
  it('are committed in test/fixtures/golden', () => {
    expect(goldenIdFiles()).to.have.length.of.at.least(5);
  });
});

describe('reference engine against llama2.c goldens', () => {
  needs('stories260K.bin', 'tok512.bin');

  for (const file of goldenIdFiles()) {
    it(`reproduces ${file}`, () => {
      const s = goldenSettings(file);
      const golden = readGoldenIds(file);
      const loaded = loadForGeneration({
        model: modelPath('stories260K.bin'),
        tokenizer: modelPath('tok512.bin'),
        weights: s.weights,
        groupSize: s.groupSize,
      });
      const prompt = loaded.tokenizer.encode(s.prompt, true, false);
      expect(prompt).to.deep.equal(golden.prompt);
      const transformer = new Transformer(loaded.model);
      const sampler = new Sampler(loaded.model.config.vocabSize, s);
      const generated: number[] = [];
      for (const step of generate(transformer, sampler, prompt, 256)) if (!step.fromPrompt) generated.push(step.next);
      expect(generated).to.deep.equal(golden.generated);
    });
  }

  it("decodes the greedy fp32 story to llama2.c's text", () => {
    const loaded = loadForGeneration({ model: modelPath('stories260K.bin'), tokenizer: modelPath('tok512.bin') });
    const golden = readGoldenIds('stories260K_f32_greedy_once_upon_a_time.ids');
    const ids = [...golden.prompt, ...golden.generated];
    const text = loaded.tokenizer.decodeText(ids);
    expect(`${text}\n`).to.equal(readFileSync(join(goldenDir(), 'stories260K_f32_greedy_once_upon_a_time.txt'), 'utf8'));
  });
});
