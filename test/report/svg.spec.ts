import { expect } from 'chai';
import {
  QUALITY_STOPS,
  colorLegend,
  colorScale,
  esc,
  heatmap,
  histogramChart,
  horizontalBars,
  lineChart,
  luminance,
  niceTicks,
  textColorOn,
} from '../../src/report/svg.js';
import { xmlProblems } from './xml.js';

describe('report/svg', () => {
  it('escapes text for XML', () => {
    expect(esc(`a<b & "c" 'd'>`)).to.equal('a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;');
  });

  it('niceTicks: round steps of 1, 2 or 5 covering the range', () => {
    expect(niceTicks(0, 10, 5)).to.deep.equal([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(-0.27, 0.27, 10).map((v) => +v.toFixed(2))).to.deep.equal([-0.2, -0.1, 0, 0.1, 0.2]);
    expect(niceTicks(-0.27, 0.27, 12).map((v) => +v.toFixed(2))).to.deep.equal([
      -0.25, -0.2, -0.15, -0.1, -0.05, 0, 0.05, 0.1, 0.15, 0.2, 0.25,
    ]);
    expect(niceTicks(0, 0)).to.deep.equal([0]);
    expect(niceTicks(0, Infinity)).to.deep.equal([]);
  });

  it('colours: a scale through its stops; text black on light and white on dark, at good contrast', () => {
    const s = colorScale(20, 50, QUALITY_STOPS);
    expect(s.color(20)).to.equal(QUALITY_STOPS[0]);
    expect(s.color(50)).to.equal(QUALITY_STOPS.at(-1));
    expect(s.color(-5)).to.equal(QUALITY_STOPS[0]);
    expect(s.color(Infinity)).to.equal(QUALITY_STOPS.at(-1));
    expect(textColorOn('#ffffff')).to.equal('#000000');
    expect(textColorOn('#053061')).to.equal('#ffffff');
    for (let v = 20; v <= 50; v += 0.5) {
      const bg = s.color(v);
      const fg = textColorOn(bg);
      const [hi, lo] = [luminance(bg), luminance(fg)].sort((a, b) => b - a);
      expect((hi + 0.05) / (lo + 0.05), `contrast of ${fg} on ${bg}`).to.be.at.least(4.5);
    }
  });

  it('every chart is well-formed XML, with text escaped', () => {
    const scale = colorScale(0, 10, QUALITY_STOPS);
    const charts = [
      heatmap({
        title: 'a <heatmap> & more',
        rowLabels: ['layer 0', 'layer 1'],
        colLabels: ['emb', 'wq'],
        cells: [
          { row: 0, col: 0, rowSpan: 2, value: 3, title: 'x & y' },
          { row: 0, col: 1, value: Infinity },
          { row: 1, col: 1, value: 7 },
        ],
        scale,
        xTitle: 'matrix',
        yTitle: 'layer',
      }),
      colorLegend(scale, { title: 'SQNR', id: 'scale-1' }),
      histogramChart({
        title: 'h',
        counts: [0, 3, 10, 2],
        lo: -1,
        hi: 1,
        xTitle: 'x',
        yTitle: 'n',
        lines: { label: 'grid', color: '#d55e00', values: [-0.5, 0, 0.5, 2] },
        rugs: [{ label: 'q8_0', color: '#0072b2', values: [-0.1, 0.1] }],
        dots: { label: 'values', color: '#222222', values: [0.2] },
      }),
      horizontalBars({
        title: 'sizes',
        items: [{ label: 'f32', value: 1000, color: '#5f6b76', valueText: '1000 B' }],
        xTitle: 'bytes',
        format: String,
        limits: [
          { value: 1500, label: 'flash' },
          { value: 1e9, label: 'dram' },
        ],
      }),
      lineChart({
        title: 'kl',
        series: [{ label: 'q4_0', color: '#d55e00', values: [0.1, 0.01, 0, NaN, 0.2] }],
        xTitle: 'pos',
        yTitle: 'KL',
        logY: true,
      }),
      lineChart({ title: 'empty', series: [], xTitle: 'pos', yTitle: 'KL' }),
    ];
    for (const svg of charts) {
      expect(xmlProblems(svg), svg).to.deep.equal([]);
      expect(svg).to.not.contain('xmlns');
    }
    expect(charts[0]).to.contain('a &lt;heatmap&gt; &amp; more').and.contain('exact');
    expect(charts[3]).to.contain('off the scale: dram');
  });

  it('a limit line near the left edge has its label after it, not cut off by the edge', () => {
    const svg = horizontalBars({
      title: 'sizes',
      items: [{ label: 'f32', value: 60_000_000, color: '#5f6b76', valueText: '58 MiB' }],
      xTitle: 'bytes',
      format: String,
      limits: [
        { value: 2_000_000, label: 'rp2040 flash: 1.9 MiB' },
        { value: 50_000_000, label: 'far right' },
      ],
    });
    const at = (label: string) => new RegExp(`<text x="([\\d.]+)" text-anchor="(start|end)"[^>]*>${label}</text>`).exec(svg)!;
    const near = at('rp2040 flash: 1\\.9 MiB');
    expect(near[2]).to.equal('start');
    expect(Number(near[1])).to.be.above(90);
    expect(at('far right')[2]).to.equal('end');
  });
});
