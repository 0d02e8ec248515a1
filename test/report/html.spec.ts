import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { loadTarget } from '../../src/plan/target.js';
import { compareSchemes } from '../../src/report/compare.js';
import { reportToHtml, schemeSqnrScale } from '../../src/report/html.js';
import { luminance } from '../../src/report/svg.js';
import { formatReport } from '../../src/report/terminal.js';
import { withSeparateClassifier } from '../checkpoint/synthetic.js';
import { tempDir } from '../helpers/fixtures.js';
import { decodePng } from './png.js';
import { smallReport } from './report-fixture.js';
import { svgElements, xmlProblems } from './xml.js';
import { needs, requireNeeds } from '../helpers/needs.js';
import { findTool, toolRequirement } from '../../src/doctor/requirements.js';

describe('report/html', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  let html: string;
  before(() => {
    html = reportToHtml(smallReport());
  });

  it('is one self-contained document: no network reference, no script, no external file', () => {
    expect(html).to.match(/^<!DOCTYPE html>\n<html lang="en">/);
    expect(html).to.contain('<meta charset="utf-8">');
    expect(html).to.not.match(/https?:\/\//i);
    expect(html).to.not.match(/<script|<link|<img|<iframe|@import|url\((?!#)/i);
    expect(html).to.not.match(/\s(src|href)\s*=/i);
  });

  it('has every section, and every SVG is well-formed XML with a title', () => {
    for (const heading of [
      'Summary',
      'Error per layer and tensor',
      'Divergence along the sequence',
      'A matrix and its quantization grid',
      'Sizes and targets',
      'Greedy divergence',
      'Every tensor',
    ]) {
      expect(html).to.contain(`<h2>${heading}</h2>`);
    }
    const svgs = svgElements(html);
    // 3 heatmaps and their colour legends, the KL chart, the histogram, the sizes and the RP2040's SRAM
    expect(svgs).to.have.length(10);
    for (const svg of svgs) {
      expect(xmlProblems(svg), svg.slice(0, 200)).to.deep.equal([]);
      expect(svg).to.match(/^<svg [^>]*aria-label="[^"]+"/);
    }
    expect(html).to.contain('q8_0 · group size 64').and.contain('q4_0 · group size 32').and.contain('mixed · group size 32');
  });

  it('gives one planned verdict per target (not one per target and scheme), none of them estimated', () => {
    const section = html.slice(html.indexOf('<h2>Sizes and targets</h2>'), html.indexOf('<h2>Greedy divergence</h2>'));
    expect(section.match(/<tr><td class="name"><b>host<\/b><\/td>/g)).to.have.length(1);
    expect(section).to.match(
      /<td class="name"><b>host<\/b><\/td><td class="name">no fixed limit<\/td><td><span class="fit">all fit \(ram [\d.]+ KiB to [\d.]+ MiB\)<\/span><\/td>/,
    );
    expect(section).to.match(
      /<b>rp2040<\/b>.*<span class="fit">q8_0 fits \(flash [\d.]+ KiB, sram [\d.]+ KiB\)<\/span>; <span class="nofit">f32, q4_0, mixed do not \(sram needs /,
    );
    expect(section).to.not.contain('fits host with no fixed limit');
    expect(html).to.not.match(/estimat/i);
  });

  it('draws the RP2040 SRAM limit on a size chart, with what each scheme needs there', () => {
    const section = html.slice(html.indexOf('<h2>Sizes and targets</h2>'), html.indexOf('<h2>Greedy divergence</h2>'));
    const sram = svgElements(section).find((svg) => svg.includes('needs in rp2040 sram'));
    expect(sram, 'a chart of the rp2040 sram').to.not.equal(undefined);
    expect(sram).to.contain('rp2040 sram: 252.0 KiB').and.contain('stroke-dasharray="6 4"');
    // the float schemes' run state does not fit the SRAM; q8_0 with the integer kernels does
    expect(sram!.match(/: does not fit<\/text>/g)).to.have.length(3);
    // the flash chart keeps its flash line
    expect(section).to.contain('rp2040 flash: 1.9 MiB');
  });

  it("colours each heatmap on its own scheme's scale, and outlines its worst matrices", () => {
    const fills = (scheme: string): Set<string> => {
      const svg = svgElements(html).find((x) => x.includes(`aria-label="${scheme} · group size`))!;
      return new Set([...svg.matchAll(/<rect [^>]*fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]));
    };
    // one scale for all would make every q4_0 cell about the same red: now its cells go from dark red to dark blue
    for (const scheme of ['q8_0', 'q4_0']) {
      const lum = [...fills(scheme)].map(luminance);
      expect(Math.max(...lum) - Math.min(...lum), scheme).to.be.above(0.5);
    }
    const q4 = smallReport().schemes[1];
    const { scale } = schemeSqnrScale(q4);
    const sqnr = q4.tensors.map((t) => t.sqnrDb);
    expect(scale.min).to.be.within(Math.min(...sqnr) - 1, Math.min(...sqnr));
    expect(scale.max).to.be.within(Math.max(...sqnr), Math.max(...sqnr) + 1);
    for (const scheme of ['q8_0', 'q4_0', 'mixed']) {
      const svg = svgElements(html).find((x) => x.includes(`aria-label="${scheme} · group size`))!;
      expect(svg.match(/fill="none" stroke="#000" stroke-width="3"/g), scheme).to.have.length(3);
      expect(html).to.contain(`aria-label="${scheme} SQNR (dB)`);
    }
  });

  it('a separate classifier gets its own heatmap column and table row', () => {
    const loaded = loadForGeneration({ weights: 'f32' });
    const report = compareSchemes({
      model: withSeparateClassifier(loaded.model),
      tokenizer: loaded.tokenizer,
      modelPath: loaded.modelPath,
      tokenizerPath: loaded.tokenizerPath,
      schemes: ['mixed'],
      sequences: 1,
      length: 4,
      greedyTokens: 4,
      targets: [loadTarget('host')],
    });
    const tensors = report.schemes[0].tensors;
    expect(tensors).to.have.length(37);
    expect(tensors.at(-1)).to.include({ name: 'wcls', kind: 'wcls', layer: null, dtype: 'q8_0' });
    expect(report.schemes[0].sizes.weightBytes).to.be.above(report.schemes[0].tensors.reduce((s, t) => s + t.bytesAfter, 0));
    const page = reportToHtml(report);
    expect(page).to.contain('>cls</text>').and.contain('<td>wcls</td>');
    for (const svg of svgElements(page)) expect(xmlProblems(svg)).to.deep.equal([]);
  });

  it('without a greedy pass (--greedy-tokens 0): no greedy section, no greedy column, in the page and on the terminal', () => {
    const loaded = loadForGeneration({ weights: 'f32' });
    const report = compareSchemes({
      model: loaded.model,
      tokenizer: loaded.tokenizer,
      modelPath: loaded.modelPath,
      tokenizerPath: loaded.tokenizerPath,
      schemes: ['q8_0'],
      sequences: 1,
      length: 4,
      greedyTokens: 0,
      targets: [loadTarget('host'), loadTarget('rp2040')],
    });
    expect(report.settings.prompts).to.deep.equal([]);
    const page = reportToHtml(report);
    expect(page).to.not.contain('<h2>Greedy divergence</h2>').and.not.contain('greedy continuations');
    for (const svg of svgElements(page)) expect(xmlProblems(svg)).to.deep.equal([]);
    const text = formatReport(report);
    expect(text).to.not.contain('greedy');
    expect(text).to.match(/^ {2}q8_0 +64 /m);
  });

  it('the XML check catches what it should', () => {
    expect(xmlProblems('<svg><g><rect x="1"/></g></svg>')).to.deep.equal([]);
    expect(xmlProblems('<svg><g></svg>')).to.not.deep.equal([]);
    expect(xmlProblems('<svg><text>a & b</text></svg>')).to.not.deep.equal([]);
    expect(xmlProblems('<svg><rect x=1/></svg>')).to.not.deep.equal([]);
    expect(xmlProblems('<svg><rect x="1" x="2"/></svg>')).to.not.deep.equal([]);
    expect(xmlProblems('<svg></svg><svg></svg>')).to.not.deep.equal([]);
  });

  it('renders in headless Chromium to a screenshot that is not blank', function () {
    requireNeeds(this, 'chromium');
    const chromium = findTool(toolRequirement('chromium'))!;
    const { dir, cleanup } = tempDir('llama2-embed-html-');
    try {
      const page = join(dir, 'report.html');
      const shot = join(dir, 'shot.png');
      writeFileSync(page, html);
      const result = spawnSync(
        chromium!,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          `--user-data-dir=${join(dir, 'profile')}`,
          `--screenshot=${shot}`,
          '--window-size=1280,2000',
          `file://${page}`,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(existsSync(shot), `chromium wrote no screenshot (exit ${result.status}): ${result.stderr}`).to.equal(true);
      const file = readFileSync(shot);
      expect(file.length).to.be.above(50_000);
      const png = decodePng(file);
      expect([png.width, png.height]).to.deep.equal([1280, 2000]);
      const colours = new Set<number>();
      let ink = 0;
      let saturated = 0;
      for (let i = 0; i < png.pixels.length; i += 4) {
        const [r, g, b] = [png.pixels[i], png.pixels[i + 1], png.pixels[i + 2]];
        colours.add((r << 16) | (g << 8) | b);
        if (r + g + b < 600) ink++;
        if (Math.max(r, g, b) - Math.min(r, g, b) > 100) saturated++;
      }
      const total = png.width * png.height;
      expect(colours.size, 'distinct colours').to.be.above(200);
      expect(ink / total, 'share of pixels that are not near white').to.be.above(0.05);
      // the heatmaps alone cover some 100,000 strongly coloured pixels; text alone has almost none
      expect(saturated, 'strongly coloured pixels (the charts)').to.be.above(40_000);
    } finally {
      cleanup();
    }
  });
});
