/**
 * The integer mode's engine (src/engine/transformer-int.ts): what it costs against llama2.c's
 * float32 goldens. Its own exactness is checked where it matters, against the generated C
 * (test/codegen/integer.spec.ts and the RP2040 tests).
 */
import { expect } from 'chai';
import { generate } from '../../src/engine/generate.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { Sampler } from '../../src/engine/sampler.js';
import { IntTransformer } from '../../src/engine/transformer-int.js';
import { readGoldenIds, stories260K } from '../helpers/fixtures.js';
import { goldenIdFiles, goldenSettings } from '../helpers/goldens.js';
import { needs } from '../helpers/needs.js';

describe('integer-mode engine against llama2.c goldens', () => {
  needs('stories260K.bin', 'tok512.bin');
  let loaded: ReturnType<typeof loadForGeneration>;
  before(() => {
    loaded = loadForGeneration({ ...stories260K, weights: 'q8_0' });
  });

  function greedy(prompt: number[], steps: number, seqLen?: number): number[] {
    const out: number[] = [];
    const transformer = new IntTransformer(loaded.model, seqLen);
    for (const step of generate(
      transformer,
      new Sampler(loaded.model.config.vocabSize, { temperature: 0, topp: 0.9, seed: 1 }),
      prompt,
      steps,
    )) {
      if (!step.fromPrompt) out.push(step.next);
    }
    return out;
  }

  // the bar: the integer kernels must not change the first 20 tokens of the fp32 greedy text
  for (const file of goldenIdFiles().filter((f) => goldenSettings(f).weights === 'f32' && goldenSettings(f).temperature === 0)) {
    it(`agrees with ${file} for at least the first 20 generated tokens`, () => {
      const golden = readGoldenIds(file);
      const generated = greedy(golden.prompt, 256);
      let same = 0;
      while (same < golden.generated.length && generated[same] === golden.generated[same]) same++;
      expect(same, `first difference at generated token ${same}`).to.be.at.least(20);
    });
  }

  it('with the classifier in row blocks (the step of a build whose logits do not fit its SRAM): the greedy tokens', () => {
    const prompt = loaded.tokenizer.encode('Once upon a time', true, false);
    const whole = new IntTransformer(loaded.model, 64);
    const blocks = new IntTransformer(loaded.model, 64, { classifier: 'blocks' });
    const greedyOf = (t: IntTransformer) => [
      ...generate(t, new Sampler(loaded.model.config.vocabSize, { temperature: 0, topp: 0.9, seed: 1 }), prompt, 64),
    ];
    const a = greedyOf(whole).map((s) => s.next);
    const b = greedyOf(blocks).map((s) => s.next);
    expect(b).to.deep.equal(a);
    expect(a.length).to.be.above(50);
    // no logits vector: the sampler runs the classifier
    expect(blocks.forward(1, 0)).to.have.length(0);
  });

  // stories260K at these settings gives every token outside the 256 largest logits weight 0 (npm run
  // bench -- sampling-blocks): the blocked sampler then draws what the plain one draws
  for (const sampling of [
    { temperature: 1, topp: 0.9, seed: 42 },
    { temperature: 0.8, topp: 0.95, seed: 7 },
    { temperature: 1, topp: 1, seed: 3 },
  ]) {
    it(`with the classifier in row blocks, sampled at temperature ${sampling.temperature}, top-p ${sampling.topp}: the plain integer sampler's tokens`, () => {
      const prompt = loaded.tokenizer.encode('One day', true, false);
      const tokensOf = (t: IntTransformer) =>
        [...generate(t, new Sampler(loaded.model.config.vocabSize, sampling), prompt, 64)].map((s) => s.next);
      const a = tokensOf(new IntTransformer(loaded.model, 64));
      const b = tokensOf(new IntTransformer(loaded.model, 64, { classifier: 'blocks' }));
      expect(b).to.deep.equal(a);
      expect(new Set(a).size, 'varied tokens').to.be.above(20);
    });
  }

  it('runs to the end of a short context and stops there', () => {
    const prompt = loaded.tokenizer.encode('Once upon a time', true, false);
    const out = greedy(prompt, 0, 40);
    expect(prompt.length - 1 + out.length).to.be.at.most(40);
    expect(out.length).to.be.greaterThan(20);
  });

  it('refuses f32 weights, and contexts beyond what its softmax sums', () => {
    const f32 = loadForGeneration(stories260K);
    expect(() => new IntTransformer(f32.model)).to.throw(
      /integer mode needs quantized weights, but the token embedding is f32; build with --quant q8_0, q4_0 or mixed/,
    );
    const long = { ...loaded.model, config: { ...loaded.model.config, seqLen: 131072 } };
    expect(() => new IntTransformer(long)).to.throw(/contexts of up to 131071 positions/);
  });
});
