import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { loadTarget } from '../../src/plan/target.js';
import { compareSchemes } from '../../src/report/compare.js';
import { reportToHtml } from '../../src/report/html.js';
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
    for (const heading of ['Summary', 'Error per layer and tensor', 'Divergence along the sequence', 'A matrix and its quantization grid', 'Sizes and targets', 'Greedy divergence', 'Every tensor']) {
      expect(html).to.contain(`<h2>${heading}</h2>`);
    }
    const svgs = svgElements(html);
    // 3 heatmaps, their colour legend, the KL chart, the histogram, the sizes
    expect(svgs).to.have.length(7);
    for (const svg of svgs) {
      expect(xmlProblems(svg), svg.slice(0, 200)).to.deep.equal([]);
      expect(svg).to.match(/^<svg [^>]*aria-label="[^"]+"/);
    }
    expect(html).to.contain('q8_0 · group size 64').and.contain('q4_0 · group size 32').and.contain('mixed · group size 32');
  });

  it('gives every scheme its planned verdict, none of them estimated', () => {
    const section = html.slice(html.indexOf('<h2>Sizes and targets</h2>'), html.indexOf('<h2>Greedy divergence</h2>'));
    expect(section).to.match(/<td class="fit">fits host with no fixed limit \(weights and run state: [\d.]+ KiB of ram\)<\/td>/);
    expect(html).to.not.match(/estimat/i);
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
