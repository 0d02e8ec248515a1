import { expect } from 'chai';
import type { F32Tensor } from '../../src/checkpoint/model.js';
import { generate } from '../../src/engine/generate.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { Sampler } from '../../src/engine/sampler.js';
import { Transformer } from '../../src/engine/transformer.js';
import { chooseGroupSize } from '../../src/quant/group-size.js';
import { dequantizeTensor, quantizeTensorQ8 } from '../../src/quant/q8.js';
import { roundHalfEven } from '../../src/quant/rounding.js';
import { modelPath } from '../helpers/fixtures.js';
import { requireNeeds } from '../helpers/needs.js';

function greedy(weights: 'f32' | 'q8_0', prompt: string, steps: number, groupSize?: number): { ids: number[]; text: string } {
  const loaded = loadForGeneration({ model: modelPath('stories260K.bin'), tokenizer: modelPath('tok512.bin'), weights, groupSize });
  const transformer = new Transformer(loaded.model);
  const sampler = new Sampler(loaded.model.config.vocabSize, { temperature: 0, topp: 0.9, seed: 1 });
  const promptIds = loaded.tokenizer.encode(prompt, true, false);
  const ids = [...promptIds];
  for (const step of generate(transformer, sampler, promptIds, steps)) if (!step.fromPrompt) ids.push(step.next);
  return { ids, text: loaded.tokenizer.decodeText(ids) };
}

describe('Q8_0 weights', () => {
  it('rounds weights half to even, as torch.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).to.deep.equal([0, 2, 2, -0, -2, -2, 2, 3]);
  });

  it('never lets a group straddle two rows: rows of 172 with group size 64 get groups of 64, 64 and 44', () => {
    const rows = 3;
    const cols = 172;
    const data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) data[r * cols + j] = (r + 1) * Math.sin(j + 1);
    // make the end of row 0 tiny and the start of row 1 huge: a straddling group would crush row 0's tail
    for (let j = 128; j < cols; j++) data[j] = 1e-3 * Math.sin(j);
    for (let j = 0; j < 20; j++) data[cols + j] = 1000;
    const t: F32Tensor = { dtype: 'f32', rows, cols, data };
    const q = quantizeTensorQ8(t, 64);
    expect(q.scales.length).to.equal(rows * 3);
    const back = dequantizeTensor(q);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < 3; g++) {
        const start = r * cols + g * 64;
        const end = r * cols + Math.min((g + 1) * 64, cols);
        let wmax = 0;
        for (let j = start; j < end; j++) wmax = Math.max(wmax, Math.abs(data[j]));
        expect(q.scales[r * 3 + g]).to.equal(Math.fround(wmax / 127)); // the scale sees only its own row's values
        for (let j = start; j < end; j++) expect(Math.abs(back.data[j] - data[j])).to.be.at.most(q.scales[r * 3 + g] / 2 + 1e-12);
      }
    }
    expect(Math.abs(back.data[150] - data[150])).to.be.below(1e-5); // the tiny tail of row 0 survives
  });

  it('picks 64 with a ragged last group for stories260K (row lengths 64 and 172)', () => {
    const choice = chooseGroupSize({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 });
    expect(choice.groupSize).to.equal(64);
    expect(choice.dividesRows).to.equal(false);
    expect(choice.reason).to.contain('172');
  });

  it('produces coherent text with the default group size (no "there there there" as llama2.c export gs 64 gives)', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const q8 = greedy('q8_0', 'Once upon a time', 128);
    const f32 = greedy('f32', 'Once upon a time', 128);
    const words = q8.text.split(/\s+/);
    for (let i = 2; i < words.length; i++) {
      expect(words[i] === words[i - 1] && words[i] === words[i - 2], `"${words[i]}" three times in: ${q8.text}`).to.equal(false);
    }
    // it follows the fp32 story for a good while before the first divergence
    let same = 0;
    while (same < q8.ids.length && q8.ids[same] === f32.ids[same]) same++;
    expect(same, q8.text).to.be.at.least(30);
    expect(q8.text.startsWith('Once upon a time')).to.equal(true);
  });
});
