import { expect } from 'chai';
import { formatReport } from '../../src/report/terminal.js';
import { smallReport } from './report-fixture.js';
import { needs } from '../helpers/needs.js';

describe('report/terminal', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  let text: string;
  let verbose: string;
  before(() => {
    text = formatReport(smallReport());
    verbose = formatReport(smallReport(), { verbose: true });
  });

  it('names the model and what was compared, on what', () => {
    expect(text).to.match(/^Quantization report for .*stories260K\.bin\n/);
    expect(text).to.contain('dim 64, hidden 172, 5 layers');
    expect(text).to.contain('q8_0 (group size 64), q4_0 (group size 32), mixed (group size 32)');
    expect(text).to.contain('4 sampled sequences × 32 tokens (seed 1, temperature 1); 32 greedy tokens after 4 prompts; perplexity on ');
  });

  it('is a short summary: one line per scheme, its worst matrices, one line per target, no per-tensor table', () => {
    expect(text.split('\n').length).to.be.below(40);
    const summary = text.slice(text.indexOf('Summary'));
    expect(text.indexOf('Summary')).to.be.below(text.indexOf('Targets'));
    for (const scheme of ['f32', 'q8_0', 'q4_0', 'mixed']) expect(summary).to.match(new RegExp(`^ {2}${scheme} `, 'm'));
    expect(summary).to.contain('mean KL').and.contain('top-1').and.contain('greedy identical').and.contain('perplexity');
    // greedy agreement summed over the 4 prompts of 32 tokens
    expect(summary).to.match(/^ {2}q8_0 .* \d+ \/ 128 +[\d.]+$/m);
    // the three matrices of lowest SQNR of each scheme, lowest first
    expect(text).to.match(/^ {2}q4_0 +layers\.\d\.\w+ [\d.]+ dB, layers\.\d\.\w+ [\d.]+ dB, layers\.\d\.\w+ [\d.]+ dB$/m);
    // one line per target, not one per target and scheme
    expect(text.match(/^ {2}host +/gm)).to.have.length(1);
    expect(text).to.match(/^ {2}host +no fixed limit +all fit \(ram [\d.]+ KiB to [\d.]+ MiB\)$/m);
    // the RP2040's SRAM is what binds: the float schemes' run state does not fit it, q8_0's (integer kernels) does
    expect(text).to.match(
      /^ {2}rp2040 +flash 1\.9 MiB, sram 252\.0 KiB +q8_0 fits \(flash [\d.]+ KiB, sram [\d.]+ KiB\); f32, q4_0, mixed do not \(sram needs [\d.]+ KiB/m,
    );
    expect(text).to.not.match(/no fixed limit.*\n.*no fixed limit/);
    expect(text).to.not.match(/^Weights, /m);
    expect(text).to.not.match(/^ {2}token_embedding /m);
    expect(text).to.contain('--verbose');
    expect(text).to.not.match(/estimat/i);
  });

  it('verbose: the summary first, then the greedy divergence per prompt and every tensor per scheme', () => {
    expect(verbose.startsWith(text.slice(0, text.indexOf('\n--verbose')))).to.equal(true);
    for (const scheme of ['q8_0', 'q4_0', 'mixed']) expect(verbose).to.match(new RegExp(`^Weights, ${scheme} `, 'm'));
    expect(verbose.indexOf('Targets')).to.be.below(verbose.indexOf('Weights, q8_0'));
    expect(verbose).to.match(/^ {2}token_embedding +512×64 +q8_0 +131,072 +34,816 +\S+ +\S+ +\d+\.\d dB$/m);
    expect(verbose).to.match(/^ {2}layers\.4\.w3 +172×64 +q4_0 +44,032 +6,880 /m);
    expect(verbose).to.match(/^ {2}"Once upon a time" +\d+ \/ 32 +\d+ \/ 32 +\d+ \/ 32$/m);
  });

  it('leaves no trailing spaces', () => {
    for (const line of [...text.split('\n'), ...verbose.split('\n')]) expect(line).to.not.match(/ $/);
  });
});
