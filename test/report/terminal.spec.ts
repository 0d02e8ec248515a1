import { expect } from 'chai';
import { formatReport } from '../../src/report/terminal.js';
import { smallReport } from './report-fixture.js';
import { needs } from '../helpers/needs.js';

describe('report/terminal', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  let text: string;
  before(() => {
    text = formatReport(smallReport());
  });

  it('names the model and what was compared', () => {
    expect(text).to.match(/^Quantization report for .*stories260K\.bin\n/);
    expect(text).to.contain('dim 64, hidden 172, 5 layers');
    expect(text).to.contain('q8_0 (group size 64), q4_0 (group size 32), mixed (group size 32)');
  });

  it('has a table of every tensor per scheme', () => {
    for (const scheme of ['q8_0', 'q4_0', 'mixed']) expect(text).to.match(new RegExp(`^Weights, ${scheme} `, 'm'));
    expect(text).to.match(/^ {2}token_embedding +512×64 +q8_0 +131,072 +34,816 +\S+ +\S+ +\d+\.\d dB$/m);
    expect(text).to.match(/^ {2}layers\.4\.w3 +172×64 +q4_0 +44,032 +6,880 /m);
  });

  it('summarizes each scheme, the greedy divergence and the verdict on every target', () => {
    const summary = text.slice(text.indexOf('Summary'));
    for (const scheme of ['f32', 'q8_0', 'q4_0', 'mixed']) expect(summary).to.match(new RegExp(`^ {2}${scheme} `, 'm'));
    expect(summary).to.contain('mean KL').and.contain('top-1').and.contain('perplexity');
    expect(summary).to.match(/^ {2}"Once upon a time" +\d+ \/ 32 +\d+ \/ 32 +\d+ \/ 32$/m);
    expect(summary).to.match(/^ {2}host +q8_0 +fits host with no fixed limit/m);
    expect(summary).to.match(/^ {2}host +q4_0 +fits host with no fixed limit \(weights and run state: [\d.]+ KiB of ram\)$/m);
    expect(text).to.not.match(/estimat/i);
  });

  it('leaves no trailing spaces', () => {
    for (const line of text.split('\n')) expect(line).to.not.match(/ $/);
  });
});
