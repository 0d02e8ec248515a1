import { expect } from 'chai';
import type { Model, Tensor } from '../../src/checkpoint/model.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { mapMatrices } from '../../src/quant/q8.js';
import {
  chunksForPerplexity,
  compareGreedy,
  compareOnSampledText,
  compareOnSequences,
  greedyContinuation,
  identicalPrefix,
  type Candidate,
} from '../../src/report/model-metrics.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { modelPath, readGoldenIds } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

/** A "scheme" that loses everything: every weight matrix zeroed (the norms are kept). */
function zeroed(model: Model): Model {
  return mapMatrices(model, (t: Tensor): Tensor => ({ dtype: 'f32', rows: t.rows, cols: t.cols, data: new Float32Array(t.rows * t.cols) }));
}

describe('report/model-metrics (stories260K)', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  let fp32: Model;
  let candidates: Candidate[];
  before(() => {
    fp32 = readCheckpoint(modelPath('stories260K.bin'));
    candidates = [
      { name: 'q8_0', model: quantizeModel(fp32, 'q8_0').model },
      { name: 'q4_0', model: quantizeModel(fp32, 'q4_0').model },
      { name: 'zeroed', model: zeroed(fp32) },
    ];
  });

  describe('on text sampled from fp32', () => {
    let sampled: ReturnType<typeof compareOnSampledText>;
    before(() => {
      sampled = compareOnSampledText(fp32, candidates, { sequences: 8, length: 64, seed: 7 });
    });

    it('samples seeded sequences: BOS, then `length` tokens, the same for the same seed', () => {
      expect(sampled.sequences).to.have.length(8);
      for (const s of sampled.sequences) {
        expect(s).to.have.length(65);
        expect(s[0]).to.equal(1);
      }
      const again = compareOnSampledText(fp32, [], { sequences: 2, length: 64, seed: 7 });
      expect(again.sequences).to.deep.equal(sampled.sequences.slice(0, 2));
      const other = compareOnSampledText(fp32, [], { sequences: 2, length: 64, seed: 8 });
      expect(other.sequences).to.not.deep.equal(again.sequences);
    });

    it('q8_0: a small KL and a high top-1 agreement', () => {
      const q8 = sampled.candidates[0];
      expect(q8.positions).to.equal(8 * 64);
      expect(q8.meanKl).to.be.above(0).and.below(0.005);
      expect(q8.maxKl).to.be.at.least(q8.meanKl);
      expect(q8.top1Agreement).to.be.above(0.95);
      expect(q8.klByPosition).to.have.length(64);
    });

    it('q4_0: worse than q8_0 on both', () => {
      const [q8, q4] = sampled.candidates;
      expect(q4.meanKl).to.be.above(5 * q8.meanKl);
      expect(q4.top1Agreement).to.be.below(q8.top1Agreement);
      expect(q4.top1Agreement).to.be.above(0.7);
    });

    it('zeroed weights: a large KL (the uniform distribution) and top-1 agreement by chance only', () => {
      const broken = sampled.candidates[2];
      expect(broken.meanKl).to.be.above(2);
      expect(broken.top1Agreement).to.be.below(0.2);
      // uniform over 512 tokens: every sampled token costs log(512)
      expect(broken.meanNll).to.be.closeTo(Math.log(512), 1e-9);
    });

    it('the fp32 model compared with itself: KL 0, top-1 100%', () => {
      const self = compareOnSampledText(fp32, [{ name: 'fp32', model: fp32 }], { sequences: 2, length: 16, seed: 3 });
      expect(self.candidates[0]).to.include({ meanKl: 0, maxKl: 0, top1Agreement: 1 });
      expect(self.candidates[0].meanNll).to.equal(self.reference.meanNll);
    });

    it('teacher forcing the sampled sequences again gives the same figures', () => {
      const forced = compareOnSequences(fp32, candidates.slice(0, 2), sampled.sequences);
      expect(forced.reference.meanNll).to.be.closeTo(sampled.reference.meanNll, 1e-12);
      for (const i of [0, 1]) {
        expect(forced.candidates[i].meanKl).to.be.closeTo(sampled.candidates[i].meanKl, 1e-12);
        expect(forced.candidates[i].top1Agreement).to.equal(sampled.candidates[i].top1Agreement);
      }
    });

    it('reports progress once per position', () => {
      const seen: number[] = [];
      compareOnSampledText(fp32, [], { sequences: 2, length: 5, seed: 1, onProgress: (done, total) => seen.push(done * 100 + total) });
      expect(seen).to.deep.equal(Array.from({ length: 10 }, (_, i) => (i + 1) * 100 + 10));
    });

    it('refuses a length beyond the context', () => {
      expect(() => compareOnSampledText(fp32, [], { sequences: 1, length: 513, seed: 1 })).to.throw(RangeError, /seq_len 512/);
    });
  });

  it('chunksForPerplexity: BOS then at most seq_len tokens each, every token once', () => {
    expect(chunksForPerplexity([5, 6, 7, 8, 9], 2)).to.deep.equal([
      [1, 5, 6],
      [1, 7, 8],
      [1, 9],
    ]);
    expect(chunksForPerplexity([], 4)).to.deep.equal([]);
  });

  it('perplexity: lower for fp32 on its own greedy story than for zeroed weights (which give exactly the vocabulary size)', () => {
    const story = greedyContinuation(fp32, [1], 100);
    const chunks = chunksForPerplexity(story, 512);
    const r = compareOnSequences(fp32, [candidates[0], candidates[2]], chunks);
    expect(Math.exp(r.reference.meanNll)).to.be.below(2);
    expect(Math.exp(r.candidates[0].meanNll)).to.be.below(2);
    expect(Math.exp(r.candidates[1].meanNll)).to.be.closeTo(512, 1e-6);
  });

  it('greedy continuation: llama2.c\'s golden tokens for "Once upon a time"', () => {
    const golden = readGoldenIds('stories260K_f32_greedy_once_upon_a_time.ids');
    const generated = greedyContinuation(fp32, golden.prompt, golden.generated.length);
    // run.c stops after BOS; we go on, so compare up to the golden's end
    expect(generated.slice(0, golden.generated.length)).to.deep.equal(golden.generated);
  });

  it('greedy divergence: fp32 against itself is identical throughout; zeroed weights part at once', () => {
    const prompts = [{ text: '', tokens: [1] }];
    const [g] = compareGreedy(fp32, [{ name: 'fp32', model: fp32 }, candidates[2]], prompts, 40);
    expect(g.reference).to.have.length(40);
    expect(g.candidates[0]).to.include({ identical: 40, total: 40 });
    expect(g.candidates[1].identical).to.be.below(3);
    expect(identicalPrefix([1, 2, 3], [1, 2, 4])).to.equal(2);
    expect(identicalPrefix([1, 2], [1, 2, 3])).to.equal(2);
  });
});
