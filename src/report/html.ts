/**
 * The report as one self-contained HTML file (`--out FILE`): inline CSS, inline SVG charts
 * (svg.ts), no scripts, nothing fetched from anywhere. Sections: summary, error per layer and
 * tensor (an SQNR heatmap per scheme), KL along the sequence, a histogram of the worst matrix
 * with its quantization grid (and, with --kv-window, the bounded KV cache's KL and greedy texts), sizes against the targets, greedy divergence, and every tensor's
 * figures in a table that opens on demand.
 */
import { formatBytes } from '../util/progress.js';
import type { QuantReport, SchemeReport } from './compare.js';
import {
  KV_WINDOW_COLOR,
  SCHEME_COLORS,
  formatByteCount,
  formatDb,
  formatError,
  formatKl,
  formatPercent,
  formatPerplexity,
  formatPrompt,
  formatShare,
  WORST_TENSORS,
  worstTensors,
} from './format.js';
import { targetFits } from './fit.js';
import {
  QUALITY_STOPS,
  colorLegend,
  colorScale,
  esc,
  heatmap,
  histogramChart,
  horizontalBars,
  lineChart,
  niceTicks,
  type ColorScale,
  type HeatmapCell,
} from './svg.js';

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #ffffff; color: #1a1a1a; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 12px; border-top: 2px solid #d9dde1; }
p { margin: 6px 0 10px; max-width: 900px; }
.meta { color: #444; margin: 0 0 2px; }
.note { color: #444; font-size: 13px; }
table { border-collapse: collapse; margin: 10px 0 6px; font-size: 14px; }
th, td { border: 1px solid #c9ced3; padding: 5px 10px; vertical-align: top; }
th { background: #eef1f4; text-align: left; font-weight: 600; }
td.scheme { min-width: 210px; max-width: 300px; }
td.name { white-space: nowrap; }
.what { font-size: 12px; color: #444; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tr.ref td { color: #3d4650; background: #f8f9fa; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; border: 1px solid #333; }
.fit { background: #e3f3e6; color: #14501f; padding: 1px 4px; }
.nofit { background: #fbe3e1; color: #7a1410; font-weight: 600; padding: 1px 4px; }
.bar { height: 6px; background: #e4e7ea; border-radius: 3px; margin-top: 4px; min-width: 90px; }
.bar > span { display: block; height: 6px; border-radius: 3px; }
.diff { font-size: 12px; color: #333; margin-top: 3px; white-space: pre-wrap; }
.tok { font-family: ui-monospace, "DejaVu Sans Mono", monospace; background: #eef1f4; border: 1px solid #c9ced3; border-radius: 3px; padding: 0 3px; white-space: pre; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 18px; align-items: flex-start; }
figure { margin: 8px 0 4px; }
figcaption { font-size: 13px; color: #444; max-width: 1100px; }
table.dense { font-size: 13px; }
table.dense th, table.dense td { padding: 3px 6px; }
details { margin: 12px 0; }
summary { cursor: pointer; font-weight: 600; }
.story { font-size: 13px; color: #333; white-space: pre-wrap; max-width: 1100px; }
svg { display: block; max-width: 100%; height: auto; }
`;

function swatch(scheme: string): string {
  return `<span class="swatch" style="background:${SCHEME_COLORS[scheme] ?? '#777'}"></span>`;
}

function td(content: string, cls = ''): string {
  return `<td${cls ? ` class="${cls}"` : ''}>${content}</td>`;
}

/** The report as a complete HTML document (the sections above), as a string for the caller to write to --out. */
export function reportToHtml(r: QuantReport): string {
  const c = r.model.config;
  const s = r.settings;
  const title = `Quantization report: ${baseName(r.model.path)}`;
  const parts: string[] = [];
  parts.push(`<h1>${esc(title)}</h1>`);
  parts.push(
    `<p class="meta">${esc(r.model.path)} · dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} KV), ` +
      `vocab ${c.vocabSize}, seq_len ${c.seqLen} · ${r.model.parameters.toLocaleString('en-US')} parameters` +
      `${r.model.sharedClassifier ? ' · classifier shared with the token embedding' : ''}</p>`,
  );
  parts.push(
    `<p class="meta">Each scheme is compared with fp32 on ${s.sequences} sequences × ${s.length} tokens sampled from the fp32 model ` +
      `(seed ${s.seed}, temperature ${s.temperature})${s.prompts.length ? `, on greedy continuations of ${s.prompts.length} prompts` : ''}` +
      `${s.eval ? `, and by perplexity on ${evalExtent(s.eval)} of ${esc(s.eval.path)}` : ''}. ${esc(r.tool)}.</p>`,
  );

  parts.push(summarySection(r));
  parts.push(errorSection(r));
  parts.push(klSection(r));
  parts.push(kvWindowSection(r));
  parts.push(histogramSection(r));
  parts.push(sizeSection(r));
  parts.push(greedySection(r));
  parts.push(tensorSection(r));

  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${esc(title)}</title>\n<style>${CSS}</style>\n</head>\n<body>\n<main>\n${parts.join('\n')}\n</main>\n</body>\n</html>\n`
  );
}

/** "1,024 tokens", or "the first 256 of 1,024 tokens" when --eval-tokens cut the text. */
function evalExtent(e: { tokens: number; used: number }): string {
  const all = `${e.tokens.toLocaleString('en-US')} tokens`;
  return e.used < e.tokens ? `the first ${e.used.toLocaleString('en-US')} of ${all}` : all;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function summarySection(r: QuantReport): string {
  const withEval = r.settings.eval !== null;
  const ref = r.reference.sizes;
  const head =
    '<tr><th>scheme</th><th class="num">group size</th><th class="num">weights</th><th class="num">of fp32</th>' +
    '<th class="num">mean KL (nats)</th><th class="num">max KL</th><th class="num">top-1 agreement</th>' +
    `${withEval ? '<th class="num">perplexity</th>' : ''}<th class="num">greedy tokens identical</th></tr>`;
  const rows = [
    `<tr class="ref">${td(`${swatch('f32')}<b>f32</b><div class="what">the reference</div>`, 'scheme')}${td('-', 'num')}` +
      `${td(esc(formatByteCount(ref.weightBytes)), 'num')}${td('100.0%', 'num')}${td('-', 'num')}${td('-', 'num')}${td('-', 'num')}` +
      `${withEval ? td(formatPerplexity(r.reference.perplexity), 'num') : ''}${td('-', 'num')}</tr>`,
  ];
  for (const x of r.schemes) {
    const identical = x.greedy.reduce((a, g) => a + g.identical, 0);
    const total = x.greedy.reduce((a, g) => a + g.total, 0);
    rows.push(
      `<tr>${td(`${swatch(x.scheme)}<b>${esc(x.scheme)}</b><div class="what">${esc(x.description.replace(`${x.scheme}: `, ''))}</div>`, 'scheme')}` +
        `${td(String(x.groupSize), 'num')}` +
        `${td(esc(formatByteCount(x.sizes.weightBytes)), 'num')}${td(formatShare(x.sizes.weightBytes, ref.weightBytes), 'num')}` +
        `${td(formatKl(x.sampled.meanKl), 'num')}${td(formatKl(x.sampled.maxKl), 'num')}${td(formatPercent(x.sampled.top1Agreement), 'num')}` +
        `${withEval ? td(formatPerplexity(x.perplexity), 'num') : ''}${td(total > 0 ? `${identical} / ${total}` : '-', 'num')}</tr>`,
    );
  }
  return (
    '<h2>Summary</h2>' +
    `<table>${head}${rows.join('')}</table>` +
    '<p class="note">Mean KL: the Kullback-Leibler divergence KL(p<sub>fp32</sub> ‖ p<sub>scheme</sub>) of the next-token distributions, ' +
    'averaged over every position of the sampled sequences (0 = the same distribution). Top-1 agreement: how often both pick the same ' +
    'most likely next token. Greedy tokens identical: summed over the prompts below.</p>'
  );
}

/** Columns of the heatmap: the embedding, each layer matrix, the classifier when separate. */
/** Columns of the heatmap: the embedding, each layer matrix, the classifier when separate; the `WORST_TENSORS` lowest SQNRs marked. */
function heatmapCells(x: SchemeReport, nLayers: number): { cols: string[]; cells: HeatmapCell[] } {
  const kinds = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'];
  const hasCls = x.tensors.some((t) => t.kind === 'wcls');
  const cols = ['emb', ...kinds, ...(hasCls ? ['cls'] : [])];
  const worst = new Set(worstTensors(x).map((t) => t.name));
  const cells: HeatmapCell[] = [];
  for (const t of x.tensors) {
    const tip = `${t.name} (${t.rows}×${t.cols}, ${t.dtype}): SQNR ${formatDb(t.sqnrDb)}, RMSE ${formatError(t.rmse)}, max |err| ${formatError(t.maxAbsError)}`;
    const marked = worst.has(t.name);
    if (t.layer === null) {
      cells.push({ row: 0, rowSpan: nLayers, col: t.kind === 'wcls' ? cols.length - 1 : 0, value: t.sqnrDb, title: tip, marked });
    } else {
      cells.push({ row: t.layer, col: 1 + kinds.indexOf(t.kind), value: t.sqnrDb, title: tip, marked });
    }
  }
  return { cols, cells };
}

/**
 * The colour scale of one scheme's heatmap: from the lowest to the highest SQNR (whole dB, at least
 * 2 dB wide) of its matrices of its main precision (the one most of its matrices have: Q4_0 in
 * `mixed`, whose Q8_0 embedding is then simply the best colour), so that its worst matrices stand
 * out. One scale for all schemes would colour every cell of a scheme alike (Q4_0 loses some
 * 23 dB against Q8_0, far more than its matrices differ from each other).
 */
export function schemeSqnrScale(x: SchemeReport): { scale: ColorScale; dtype: string; allMatrices: boolean } {
  const counts = new Map<string, number>();
  for (const t of x.tensors) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1);
  const dtype = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  const finite = x.tensors.filter((t) => t.dtype === dtype && Number.isFinite(t.sqnrDb)).map((t) => t.sqnrDb);
  const allMatrices = counts.size === 1;
  if (finite.length === 0) return { scale: colorScale(0, 60, QUALITY_STOPS), dtype, allMatrices };
  let lo = Math.floor(Math.min(...finite));
  let hi = Math.ceil(Math.max(...finite));
  if (hi - lo < 2) {
    const mid = (lo + hi) / 2;
    lo = Math.floor(mid - 1);
    hi = Math.ceil(mid + 1);
  }
  return { scale: colorScale(lo, hi, QUALITY_STOPS), dtype, allMatrices };
}

function errorSection(r: QuantReport): string {
  const rows = Array.from({ length: r.model.config.nLayers }, (_, l) => `layer ${l}`);
  const maps = r.schemes.map((x) => {
    const { cols, cells } = heatmapCells(x, r.model.config.nLayers);
    const { scale, dtype, allMatrices } = schemeSqnrScale(x);
    const map = heatmap({
      title: `${x.scheme} · group size ${x.groupSize}`,
      rowLabels: rows,
      colLabels: cols,
      cells,
      scale,
      xTitle: 'matrix',
      yTitle: 'layer',
      cellWidth: 34,
      cellHeight: 24,
    });
    const title = allMatrices ? `${x.scheme} SQNR (dB)` : `${x.scheme} SQNR (dB), scaled to its ${dtype} matrices`;
    const legend = colorLegend(scale, { title, id: `sqnr-scale-${x.scheme}`, width: Math.max(300, 66 + 34 * cols.length + 12) });
    return `<div>${map}${legend}</div>`;
  });
  return (
    '<h2>Error per layer and tensor</h2>' +
    '<p>Signal-to-quantization-noise ratio of every weight matrix, SQNR = 10·log<sub>10</sub>(Σw² / Σ(w − ŵ)²) in dB, where w is the ' +
    'fp32 weight and ŵ the dequantized one. Higher is better; each 6 dB is about one more bit. The token embedding (emb, and a ' +
    'separate classifier, cls) spans all layers.</p>' +
    `<p>Each scheme has <b>its own colour scale</b>, from its lowest SQNR (dark red) to its highest (dark blue): the colours show ` +
    `which matrices suffer most within a scheme; compare schemes by the numbers. The ${WORST_TENSORS} lowest of each are outlined.</p>` +
    `<div class="charts">${maps.join('')}</div>`
  );
}

function klSection(r: QuantReport): string {
  const chart = lineChart({
    title: 'Mean KL(p_fp32 ‖ p_scheme) at each position of the sampled sequences',
    series: r.schemes.map((x) => ({ label: x.scheme, color: SCHEME_COLORS[x.scheme], values: x.sampled.klByPosition })),
    xTitle: 'position in the sequence (0 = after BOS)',
    yTitle: 'KL (nats, log scale)',
    logY: true,
  });
  return (
    '<h2>Divergence along the sequence</h2>' +
    `<figure>${chart}<figcaption>Averaged over the ${r.settings.sequences} sequences at each position: whether the error grows as the ` +
    'context (and the KV cache built from quantized weights) gets longer.</figcaption></figure>'
  );
}

/** The bounded KV cache (--kv-window) against the full context: its KL along the sequence beside the schemes', and its greedy texts. */
function kvWindowSection(r: QuantReport): string {
  const kv = r.kvWindow;
  if (!kv) return '';
  const name = `kv ${kv.sinks}+${kv.window}`;
  const chart = lineChart({
    title: `Mean KL(p_full ‖ p_bounded) at each position, --kv-window ${kv.sinks}+${kv.window} (fp32), beside each scheme's KL`,
    series: [
      { label: name, color: KV_WINDOW_COLOR, values: kv.sampled.klByPosition },
      ...r.schemes.map((x) => ({ label: x.scheme, color: SCHEME_COLORS[x.scheme], values: x.sampled.klByPosition })),
    ],
    xTitle: 'position in the sequence (0 = after BOS)',
    yTitle: 'KL (nats, log scale)',
    logY: true,
  });
  const x = kv.sampled;
  const rows = kv.greedy
    .map((g) => {
      const diff = g.firstDifference
        ? `<div class="diff">${esc(g.firstDifference.context)} <span class="tok">${esc(g.firstDifference.reference)}</span> full / ` +
          `<span class="tok">${esc(g.firstDifference.candidate)}</span> bounded</div>`
        : '<div class="diff">all identical</div>';
      return `<tr>${td(esc(formatPrompt(g.prompt)))}<td><b>${g.identical}</b> / ${g.total}${diff}</td></tr>`;
    })
    .join('');
  return (
    '<h2>Bounded KV cache</h2>' +
    `<p>A cache of ${kv.rows} positions (the first ${kv.sinks}, the attention sinks, and a window of the latest ${kv.window}) against the ` +
    `full context, both fp32, on the same sampled text: exact up to position ${kv.rows - 1} (no line there), an approximation after. ` +
    `Mean KL ${formatKl(x.meanKlPastWindow)} nats over the positions past ${kv.rows} (${formatKl(x.meanKl)} over all), max ${formatKl(x.maxKl)}, ` +
    `top-1 agreement ${formatPercent(x.top1Agreement)}.</p>` +
    `<figure>${chart}<figcaption>Averaged over the ${r.settings.sequences} sequences at each position. ` +
    'The schemes are drawn for scale: what forgetting the middle of the text costs against what quantization costs.</figcaption></figure>' +
    (rows
      ? `<p>Greedy tokens identical to the full context's before the first difference, after each prompt:</p><table><tr><th>prompt</th><th>${esc(name)}</th></tr>${rows}</table>`
      : '')
  );
}

function histogramSection(r: QuantReport): string {
  const h = r.histogram;
  const main = h.grids[0];
  if (!main) return '';
  const chart = histogramChart({
    title: `Weights of ${h.tensor} (fp32) with the ${main.scheme} grid of row ${main.row}, group ${main.group}`,
    counts: h.counts,
    lo: h.lo,
    hi: h.hi,
    xTitle: 'weight value',
    yTitle: 'number of weights',
    lines: {
      label: `${main.scheme} levels of that group (scale ${main.scale.toPrecision(3)} × k)`,
      color: SCHEME_COLORS[main.scheme],
      values: main.levels,
    },
    rugs: h.grids.map((g) => ({ label: `${g.scheme} (${g.levels.length})`, color: SCHEME_COLORS[g.scheme], values: g.levels })),
    dots: { label: 'group values', color: '#222222', values: main.values },
  });
  return (
    '<h2>A matrix and its quantization grid</h2>' +
    `<figure>${chart}<figcaption>${esc(h.tensor)} has the lowest SQNR of the report (${formatDb(h.sqnrDb)} with ${esc(h.scheme)}). ` +
    'The bars are its fp32 weights. The group drawn holds its value of largest magnitude, so its grid is the widest: after ' +
    'quantization every value of that group is one of the dashed levels (scale × k). Under the axis: the levels of the same group in ' +
    `each scheme (row ${main.row}; group sizes ${[...new Set(h.grids.map((g) => g.groupSize))].join(', ')}), and the ${main.values.length} fp32 values of the group drawn.</figcaption></figure>`
  );
}

function sizeSection(r: QuantReport): string {
  const all = [{ scheme: 'f32', sizes: r.reference.sizes }, ...r.schemes];
  const fp32 = r.reference.sizes.blobBytes;
  const targets = r.reference.sizes.targets;
  const limits = targets
    .filter((t) => t.capacity !== null)
    .map((t) => ({ value: t.capacity as number, label: `${t.target} ${t.memory}: ${formatBytes(t.capacity as number)}` }));
  const chart = horizontalBars({
    title: 'Weights blob per scheme, and the capacity of each target memory that holds the weights',
    items: all.map((x) => ({
      label: x.scheme,
      value: x.sizes.blobBytes,
      color: SCHEME_COLORS[x.scheme] ?? '#777',
      valueText: `${formatBytes(x.sizes.blobBytes)} (${formatShare(x.sizes.blobBytes, fp32)})`,
    })),
    xTitle: 'bytes',
    format: byteTickLabel,
    ticks: byteTicks,
    limits,
  });
  // where the run state has a memory of its own (the RP2040's SRAM), that memory binds first
  const stateCharts = targets
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t.state !== null && t.state.capacity !== null)
    .map(({ t, i }) => {
      const memory = t.state!.memory;
      const capacity = t.state!.capacity!;
      const svg = horizontalBars({
        title: `What each scheme needs in ${t.target} ${memory}, against its ${formatBytes(capacity)}`,
        items: all.map((x) => {
          const need = x.sizes.targets[i].state!.needed;
          return {
            label: x.scheme,
            value: need,
            color: SCHEME_COLORS[x.scheme] ?? '#777',
            valueText: `${formatBytes(need)}${need > capacity ? ': does not fit' : ''}`,
          };
        }),
        xTitle: 'bytes',
        format: byteTickLabel,
        ticks: byteTicks,
        limits: [{ value: capacity, label: `${t.target} ${memory}: ${formatBytes(capacity)}` }],
      });
      return (
        `<figure>${svg}<figcaption>${esc(t.target)} runs from ${esc(memory)}: the run state (KV cache at seq_len ${r.model.config.seqLen}, ` +
        `activations), the code that runs from there and the weights copied there, as the plan lays them out for each scheme ` +
        `(${esc(t.target)} builds run Q8_0, and Q4_0 in the shapes the integer kernels take, with the integer kernels and an int8 KV cache, the others with float kernels). ` +
        `A bar past the line does not fit: <code>llama2-embed plan --target ${esc(t.target)}</code> shows what would (a shorter <code>--seq-len</code>).</figcaption></figure>`
      );
    })
    .join('');
  const blobRows = all
    .map(
      (x) =>
        `<tr>${td(`${swatch(x.scheme)}${esc(x.scheme)}`)}${td(esc(formatByteCount(x.sizes.weightBytes)), 'num')}` +
        `${td(esc(formatByteCount(x.sizes.blobBytes)), 'num')}${td(formatShare(x.sizes.blobBytes, fp32), 'num')}</tr>`,
    )
    .join('');
  const fitRows = targetFits(r)
    .map(
      (f) =>
        `<tr>${td(`<b>${esc(f.target)}</b>`, 'name')}${td(esc(f.limits), 'name')}<td>` +
        (f.fitting ? `<span class="fit">${esc(f.fitting)}</span>` : '') +
        (f.fitting && f.failing ? '; ' : '') +
        (f.failing ? `<span class="nofit">${esc(f.failing)}</span>` : '') +
        '</td></tr>',
    )
    .join('');
  const noCapacity = targets.filter((t) => t.capacity === null).map((t) => t.target);
  return (
    '<h2>Sizes and targets</h2>' +
    `<figure>${chart}<figcaption>The weights blob is what the memory plan lays out for the program: every matrix with its scales, the ` +
    `norms and the RoPE tables, each buffer aligned to 64 bytes.${noCapacity.length ? ` No line for ${esc(noCapacity.join(', '))}: no fixed limit.` : ''}` +
    '</figcaption></figure>' +
    stateCharts +
    `<table><tr><th>scheme</th><th class="num">weights</th><th class="num">weights blob</th><th class="num">of fp32</th></tr>${blobRows}</table>` +
    '<p class="note">Weights: the tensors alone (values, scales, norms).</p>' +
    `<table><tr><th>target</th><th>memory</th><th>verdict</th></tr>${fitRows}</table>` +
    '<p class="note">A scheme fits a target when every memory holds what the plan puts there: the weights (with the run state ' +
    'when it lives there too) and, when the run state has a memory of its own, that one.</p>'
  );
}

/** Axis ticks at round numbers of KiB or MiB. */
function byteTicks(max: number): number[] {
  const unit = max >= 2 * 1024 * 1024 ? 1024 * 1024 : 1024;
  return niceTicks(0, max / unit, 6).map((t) => t * unit);
}

function byteTickLabel(v: number): string {
  if (v === 0) return '0';
  return v >= 1024 * 1024 ? `${Number((v / 1024 / 1024).toFixed(2))} MiB` : `${Number((v / 1024).toFixed(1))} KiB`;
}

function greedySection(r: QuantReport): string {
  const s = r.settings;
  if (s.prompts.length === 0) return '';
  const head = `<tr><th>prompt</th>${r.schemes.map((x) => `<th>${swatch(x.scheme)}${esc(x.scheme)}</th>`).join('')}</tr>`;
  const rows = s.prompts
    .map((prompt, p) => {
      const cells = r.schemes
        .map((x) => {
          const g = x.greedy[p];
          const share = g.total > 0 ? g.identical / g.total : 1;
          const bar = `<div class="bar"><span style="width:${(100 * share).toFixed(1)}%;background:${SCHEME_COLORS[x.scheme]}"></span></div>`;
          const diff = g.firstDifference
            ? `<div class="diff">${esc(g.firstDifference.context)} <span class="tok">${esc(g.firstDifference.reference)}</span> fp32 / ` +
              `<span class="tok">${esc(g.firstDifference.candidate)}</span> ${esc(x.scheme)}</div>`
            : '<div class="diff">all identical</div>';
          return `<td><b>${g.identical}</b> / ${g.total}${bar}${diff}</td>`;
        })
        .join('');
      return `<tr>${td(esc(formatPrompt(prompt)))}${cells}</tr>`;
    })
    .join('');
  const stories = r.reference.greedy
    .map((g) => `<p class="story">${g.prompt ? `<b>${esc(g.prompt)}</b>` : '<b>(BOS only)</b> '}${esc(g.text)}</p>`)
    .join('');
  return (
    '<h2>Greedy divergence</h2>' +
    `<p>Each model generates ${s.greedyTokens} tokens greedily (always the most likely one) after each prompt; the number is how many ` +
    "are identical to fp32's before the first that differs. Under it, the text up to that point and the two next tokens.</p>" +
    `<table>${head}${rows}</table>` +
    `<details><summary>What fp32 generates</summary>${stories}</details>`
  );
}

function tensorSection(r: QuantReport): string {
  const head1 = `<tr><th rowspan="2">tensor</th><th rowspan="2" class="num">shape</th><th rowspan="2" class="num">fp32 bytes</th>${r.schemes
    .map((x) => `<th colspan="4">${swatch(x.scheme)}${esc(x.scheme)}</th>`)
    .join('')}</tr>`;
  const head2 = `<tr>${r.schemes.map(() => '<th class="num">bytes</th><th class="num">max |err|</th><th class="num">RMSE</th><th class="num">SQNR</th>').join('')}</tr>`;
  const rows = r.schemes[0].tensors
    .map((t, i) => {
      const cells = r.schemes
        .map((x) => {
          const u = x.tensors[i];
          return (
            td(u.bytesAfter.toLocaleString('en-US'), 'num') +
            td(formatError(u.maxAbsError), 'num') +
            td(formatError(u.rmse), 'num') +
            td(formatDb(u.sqnrDb), 'num')
          );
        })
        .join('');
      return `<tr>${td(esc(t.name))}${td(`${t.rows}×${t.cols}`, 'num')}${td(t.bytesBefore.toLocaleString('en-US'), 'num')}${cells}</tr>`;
    })
    .join('');
  return (
    '<h2>Every tensor</h2>' +
    `<details><summary>${r.schemes[0].tensors.length} matrices × ${r.schemes.length} schemes: bytes, largest error, RMSE, SQNR</summary>` +
    `<table class="dense">${head1}${head2}${rows}</table></details>`
  );
}
