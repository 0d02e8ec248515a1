import { expect } from 'chai';
import type { QuantReport } from '../../src/report/compare.js';
import { REPORT_JSON_FORMAT, REPORT_JSON_VERSION, reportToJson } from '../../src/report/json.js';
import { smallReport } from './report-fixture.js';
import { needs } from '../helpers/needs.js';

describe('report/json', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  let doc: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  before(() => {
    doc = JSON.parse(reportToJson(smallReport()));
  });

  it('identifies itself, then has the documented top-level fields', () => {
    expect(Object.keys(doc)).to.deep.equal([
      'format',
      'version',
      'tool',
      'model',
      'settings',
      'reference',
      'schemes',
      'histogram',
      'kvWindow',
    ]);
    expect(doc.kvWindow).to.equal(null); // no --kv-window
    expect(doc.format).to.equal(REPORT_JSON_FORMAT);
    expect(doc.version).to.equal(REPORT_JSON_VERSION);
    expect(doc.model).to.include({ format: 'v0', parameters: 260_032, sharedClassifier: true });
    expect(doc.model.config).to.deep.equal({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 });
    expect(doc.settings).to.deep.include({
      schemes: ['q8_0', 'q4_0', 'mixed'],
      groupSize: null,
      sequences: 4,
      length: 32,
      seed: 1,
      temperature: 1,
      greedyTokens: 32,
    });
    expect(doc.settings.prompts).to.deep.equal(['', 'Once upon a time', 'One day', 'Lily']);
    expect(doc.settings.eval).to.include({ path: 'story.txt', chunks: 1 });
    expect(doc.settings.eval.used).to.equal(doc.settings.eval.tokens).and.be.above(10);
  });

  it('has per scheme: sizes and verdicts, every tensor, the sampled-text figures, perplexity, greedy divergence', () => {
    expect(doc.schemes.map((s: { scheme: string }) => s.scheme)).to.deep.equal(['q8_0', 'q4_0', 'mixed']);
    for (const s of doc.schemes) {
      expect(Object.keys(s)).to.deep.equal([
        'scheme',
        'description',
        'groupSize',
        'groupSizeReason',
        'sizes',
        'tensors',
        'sampled',
        'perplexity',
        'greedy',
      ]);
      expect(s.sizes.weightBytes).to.be.a('number').and.below(doc.reference.sizes.weightBytes);
      expect(s.sizes.targets.map((t: { target: string }) => t.target)).to.include('host');
      for (const t of s.sizes.targets) {
        expect(Object.keys(t)).to.deep.equal([
          'target',
          'memory',
          'memoryKind',
          'capacity',
          'needed',
          'includesState',
          'fits',
          'spare',
          'verdict',
          'state',
        ]);
      }
      expect(s.tensors).to.have.length(36);
      expect(s.tensors[0].name).to.equal('token_embedding');
      expect(s.tensors[1].name).to.equal('layers.0.wq');
      expect(s.tensors[35].name).to.equal('layers.4.w3');
      expect(Object.keys(s.tensors[0])).to.deep.equal([
        'name',
        'layer',
        'kind',
        'rows',
        'cols',
        'dtype',
        'groupSize',
        'bytesBefore',
        'bytesAfter',
        'maxAbsError',
        'rmse',
        'sqnrDb',
      ]);
      expect(Object.keys(s.sampled)).to.deep.equal(['positions', 'meanKl', 'maxKl', 'top1Agreement', 'klByPosition']);
      expect(s.sampled.positions).to.equal(128);
      expect(s.sampled.klByPosition).to.have.length(32);
      expect(s.perplexity).to.be.a('number');
      expect(s.greedy).to.have.length(4);
      expect(Object.keys(s.greedy[0])).to.deep.equal(['prompt', 'identical', 'total', 'tokens', 'firstDifference']);
    }
    expect(doc.schemes[0].sampled.meanKl).to.be.below(doc.schemes[1].sampled.meanKl);
    expect(doc.reference.greedy[1]).to.include({ prompt: 'Once upon a time' });
    expect(doc.reference.greedy[1].text).to.match(/^, there was/);
    expect(doc.histogram.grids.map((g: { scheme: string }) => g.scheme)).to.have.members(['q8_0', 'q4_0', 'mixed']);
  });

  it('writes an SQNR that is not finite (an unchanged matrix) as null, and keeps number arrays on one line', () => {
    const r = smallReport();
    const exact: QuantReport = {
      ...r,
      schemes: [{ ...r.schemes[0], tensors: [{ ...r.schemes[0].tensors[0], sqnrDb: Infinity }] }],
    };
    const text = reportToJson(exact);
    expect(JSON.parse(text).schemes[0].tensors[0].sqnrDb).to.equal(null);
    expect(text).to.match(/"klByPosition": \[[\d.e+-]+(,[\d.e+-]+)*\]/);
    expect(text.endsWith('}\n')).to.equal(true);
  });
});
