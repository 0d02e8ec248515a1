/**
 * Small SVG charts for the HTML report, written by hand: a heatmap, a histogram with a
 * quantization grid over it, horizontal bars with limit lines, a line chart, and a colour legend.
 * Each function returns one `<svg>` element as a string, well-formed XML, meant to be inlined in
 * HTML (so no xmlns: the HTML parser puts it in the SVG namespace). Text is escaped; sizes are in
 * CSS pixels; every chart has a title, labelled axes and, where colours carry meaning, a legend.
 */

export const FONT = 'system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
const AXIS = '#333';
const GRID = '#e3e3e3';
const MUTED = '#555';

/** Escapes text for XML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A number for an SVG attribute: at most 2 decimals, no exponent. */
function n(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

function svgOpen(width: number, height: number, label: string): string {
  return (
    `<svg width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" role="img" aria-label="${esc(label)}" ` +
    `font-family="${esc(FONT)}" font-size="12">`
  );
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? ` ${attrs}` : ''}>${esc(content)}</text>`;
}

/** About `count` round tick values covering [min, max] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(Number.isFinite(min) && Number.isFinite(max))) return [];
  if (max === min) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** A tick label: short, with only the decimals the step needs. */
export function tickLabel(v: number, step: number): string {
  if (v === 0) return '0';
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

// ---------------------------------------------------------------------------------------------
// colours

/** Relative luminance (WCAG) of a #rrggbb colour. */
export function luminance(hex: string): number {
  const c = [1, 3, 5]
    .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4)));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

/** Black or white, whichever reads better on `background`. */
export function textColorOn(background: string): string {
  const l = luminance(background);
  return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}

function hexToRgb(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function rgbToHex(rgb: number[]): string {
  return `#${rgb
    .map((v) =>
      Math.round(Math.max(0, Math.min(255, v)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

/** A colour scale over [min, max] through evenly spaced stops (linear interpolation in RGB). */
export interface ColorScale {
  min: number;
  max: number;
  stops: readonly string[];
  color(value: number): string;
}

/**
 * A ColorScale over [min, max] through `stops` (#rrggbb), interpolated in RGB. Values outside are clamped,
 * +Infinity takes the last stop, -Infinity and NaN the first, and a scale with max <= min gives the middle.
 */
export function colorScale(min: number, max: number, stops: readonly string[]): ColorScale {
  const rgb = stops.map(hexToRgb);
  return {
    min,
    max,
    stops,
    color(value: number): string {
      if (!Number.isFinite(value)) return value > 0 ? stops[stops.length - 1] : stops[0];
      const t = max > min ? Math.max(0, Math.min(1, (value - min) / (max - min))) : 0.5;
      const pos = t * (stops.length - 1);
      const i = Math.min(stops.length - 2, Math.floor(pos));
      const f = pos - i;
      return rgbToHex(rgb[i].map((a, k) => a + (rgb[i + 1][k] - a) * f));
    },
  };
}

/** From poor (dark red) through light to good (dark blue): for SQNR in dB, higher is better. */
export const QUALITY_STOPS = ['#67001f', '#b2182b', '#d6604d', '#f4a582', '#fddbc7', '#d1e5f0', '#92c5de', '#4393c3', '#2166ac', '#053061'];

export interface LegendItem {
  label: string;
  color: string;
  /** How the item is drawn: a filled box (bars), a line, a dashed line, or short ticks. */
  mark?: 'box' | 'line' | 'dash' | 'tick' | 'dot';
}

/** A row of legend entries starting at (x, y) (y is the text baseline); returns the SVG fragment. */
function legendRow(x: number, y: number, items: readonly LegendItem[]): string {
  let out = '';
  let at = x;
  for (const item of items) {
    const mark = item.mark ?? 'box';
    if (mark === 'box')
      out += `<rect x="${n(at)}" y="${n(y - 10)}" width="12" height="12" fill="${item.color}" stroke="#333" stroke-width="0.5"/>`;
    else if (mark === 'dot')
      out += `<circle cx="${n(at + 6)}" cy="${n(y - 4)}" r="4" fill="${item.color}" stroke="#fff" stroke-width="0.8"/>`;
    else if (mark === 'tick')
      out += `<path d="M${n(at + 3)} ${n(y - 10)}v12M${n(at + 7)} ${n(y - 10)}v12M${n(at + 11)} ${n(y - 10)}v12" stroke="${item.color}" stroke-width="1.5"/>`;
    else {
      const dash = mark === 'dash' ? ' stroke-dasharray="4 3"' : '';
      out += `<line x1="${n(at)}" y1="${n(y - 4)}" x2="${n(at + 16)}" y2="${n(y - 4)}" stroke="${item.color}" stroke-width="2"${dash}/>`;
    }
    out += text(at + 20, y, item.label, `fill="${AXIS}"`);
    at += 20 + item.label.length * 7 + 24;
  }
  return out;
}

/** A horizontal colour bar for a scale, with ticks and a title. */
export function colorLegend(
  scale: ColorScale,
  options: { title: string; id: string; width?: number; format?: (v: number) => string },
): string {
  const width = options.width ?? 360;
  const height = 58;
  const left = 16;
  const barW = width - 2 * left;
  const stops = scale.stops.map((c, i) => `<stop offset="${n((100 * i) / (scale.stops.length - 1))}%" stop-color="${c}"/>`).join('');
  const ticks = niceTicks(scale.min, scale.max, 6);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  const format = options.format ?? ((v: number) => tickLabel(v, step));
  const tickMarks = ticks
    .map((v) => {
      const x = left + ((v - scale.min) / (scale.max - scale.min || 1)) * barW;
      return (
        `<line x1="${n(x)}" y1="34" x2="${n(x)}" y2="39" stroke="${AXIS}"/>` + text(x, 52, format(v), `text-anchor="middle" fill="${AXIS}"`)
      );
    })
    .join('');
  return (
    svgOpen(width, height, options.title) +
    `<defs><linearGradient id="${esc(options.id)}" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>` +
    text(left, 13, options.title, `fill="${AXIS}" font-weight="600"`) +
    `<rect x="${left}" y="18" width="${n(barW)}" height="16" fill="url(#${esc(options.id)})" stroke="#333" stroke-width="0.5"/>` +
    tickMarks +
    '</svg>'
  );
}

// ---------------------------------------------------------------------------------------------
// heatmap

export interface HeatmapCell {
  row: number;
  col: number;
  /** Rows the cell covers (default 1). */
  rowSpan?: number;
  value: number;
  /** Shown in the cell (default: the value with one decimal). */
  label?: string;
  /** Tooltip. */
  title?: string;
  /** Drawn with a thick outline (e.g. the worst cells). */
  marked?: boolean;
}

export interface HeatmapOptions {
  title: string;
  rowLabels: readonly string[];
  colLabels: readonly string[];
  cells: readonly HeatmapCell[];
  scale: ColorScale;
  xTitle: string;
  yTitle: string;
  cellWidth?: number;
  cellHeight?: number;
}

/** A grid of coloured cells, a row per `rowLabels` entry and a column per `colLabels` entry; cells may span rows. */
export function heatmap(o: HeatmapOptions): string {
  const cw = o.cellWidth ?? 42;
  const ch = o.cellHeight ?? 22;
  const left = 66;
  const top = 62;
  const width = left + cw * o.colLabels.length + 12;
  const height = top + ch * o.rowLabels.length + 40;
  let out = svgOpen(width, height, o.title);
  out += text(left, 16, o.title, `fill="${AXIS}" font-weight="600" font-size="14"`);
  o.colLabels.forEach((label, c) => {
    out += text(left + cw * c + cw / 2, top - 8, label, `text-anchor="middle" fill="${AXIS}"`);
  });
  o.rowLabels.forEach((label, r) => {
    out += text(left - 8, top + ch * r + ch / 2 + 4, label, `text-anchor="end" fill="${AXIS}"`);
  });
  for (const cell of o.cells) {
    const x = left + cw * cell.col;
    const y = top + ch * cell.row;
    const h = ch * (cell.rowSpan ?? 1);
    const fill = o.scale.color(cell.value);
    out += `<g><title>${esc(cell.title ?? String(cell.value))}</title>`;
    out += `<rect x="${n(x + 0.5)}" y="${n(y + 0.5)}" width="${n(cw - 1)}" height="${n(h - 1)}" fill="${fill}"/>`;
    const label = cell.label ?? (Number.isFinite(cell.value) ? cell.value.toFixed(1) : 'exact');
    out += text(x + cw / 2, y + h / 2 + 4, label, `text-anchor="middle" fill="${textColorOn(fill)}" font-size="11"`);
    out += '</g>';
  }
  // outlines last, so that no neighbouring cell covers them
  for (const cell of o.cells.filter((c) => c.marked)) {
    const x = left + cw * cell.col;
    const y = top + ch * cell.row;
    const h = ch * (cell.rowSpan ?? 1);
    out += `<rect x="${n(x + 1.5)}" y="${n(y + 1.5)}" width="${n(cw - 3)}" height="${n(h - 3)}" fill="none" stroke="#000" stroke-width="3"/>`;
  }
  // axis titles: the columns' above their labels, the rows' rotated on the left
  out += text(left + (cw * o.colLabels.length) / 2, top - 26, o.xTitle, `text-anchor="middle" fill="${MUTED}" font-size="11"`);
  const midY = top + (ch * o.rowLabels.length) / 2;
  out += text(12, midY, o.yTitle, `text-anchor="middle" fill="${MUTED}" font-size="11" transform="rotate(-90 12 ${n(midY)})"`);
  return `${out}</svg>`;
}

// ---------------------------------------------------------------------------------------------
// histogram with grid lines

export interface GridOverlay {
  label: string;
  color: string;
  values: readonly number[];
}

export interface HistogramOptions {
  title: string;
  counts: readonly number[];
  lo: number;
  hi: number;
  xTitle: string;
  yTitle: string;
  /** Drawn as dashed vertical lines over the bars (one grid). */
  lines?: GridOverlay;
  /** Drawn as rows of ticks under the axis (one row each). */
  rugs?: readonly GridOverlay[];
  /** Drawn as dots on their own row under the rugs. */
  dots?: GridOverlay;
  width?: number;
  height?: number;
}

/**
 * A histogram of `counts` (equal bins over [lo, hi]: a matrix's fp32 weights), with a quantization grid
 * as dashed lines over the bars and other grids as rows of ticks and dots under the axis.
 */
export function histogramChart(o: HistogramOptions): string {
  const width = o.width ?? 1100;
  const plotH = o.height ?? 260;
  const left = 110;
  const right = 16;
  const top = 52;
  const plotW = width - left - right;
  const rugs = o.rugs ?? [];
  const rugRow = 18;
  const axisBottom = top + plotH;
  const rugsTop = axisBottom + 50;
  const rowsBelow = rugs.length + (o.dots ? 1 : 0);
  const height = rugsTop + rowsBelow * rugRow + 8;
  const maxCount = Math.max(1, ...o.counts);
  const x = (v: number) => left + ((v - o.lo) / (o.hi - o.lo)) * plotW;
  const y = (c: number) => axisBottom - (c / maxCount) * plotH;
  let out = svgOpen(width, height, o.title);
  out += text(left, 16, o.title, `fill="${AXIS}" font-weight="600" font-size="14"`);

  // y grid and ticks
  const yTicks = niceTicks(0, maxCount, 5);
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  for (const t of yTicks) {
    out += `<line x1="${left}" y1="${n(y(t))}" x2="${n(left + plotW)}" y2="${n(y(t))}" stroke="${GRID}"/>`;
    out += text(left - 6, y(t) + 4, tickLabel(t, yStep), `text-anchor="end" fill="${AXIS}"`);
  }
  // bars
  const binW = plotW / o.counts.length;
  o.counts.forEach((c, i) => {
    if (c === 0) return;
    const x0 = left + i * binW;
    out += `<rect x="${n(x0 + 0.5)}" y="${n(y(c))}" width="${n(Math.max(0.5, binW - 1))}" height="${n(axisBottom - y(c))}" fill="#8c96a0"><title>${esc(`${c} values`)}</title></rect>`;
  });
  // the grid over the bars
  if (o.lines) {
    for (const v of o.lines.values) {
      if (v < o.lo || v > o.hi) continue;
      out += `<line x1="${n(x(v))}" y1="${top}" x2="${n(x(v))}" y2="${axisBottom}" stroke="${o.lines.color}" stroke-width="1.5" stroke-dasharray="4 3"/>`;
    }
  }
  // x axis
  out += `<line x1="${left}" y1="${axisBottom}" x2="${n(left + plotW)}" y2="${axisBottom}" stroke="${AXIS}"/>`;
  out += `<line x1="${left}" y1="${top}" x2="${left}" y2="${axisBottom}" stroke="${AXIS}"/>`;
  const xTicks = niceTicks(o.lo, o.hi, 10);
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
  for (const t of xTicks) {
    out += `<line x1="${n(x(t))}" y1="${axisBottom}" x2="${n(x(t))}" y2="${axisBottom + 5}" stroke="${AXIS}"/>`;
    out += text(x(t), axisBottom + 18, tickLabel(t, xStep), `text-anchor="middle" fill="${AXIS}"`);
  }
  // rugs and dots, each on its own labelled row
  rugs.forEach((rug, r) => {
    const ry = rugsTop + r * rugRow;
    out += text(left - 6, ry + 10, rug.label, `text-anchor="end" fill="${AXIS}" font-size="11"`);
    const d = rug.values
      .filter((v) => v >= o.lo && v <= o.hi)
      .map((v) => `M${n(x(v))} ${n(ry)}v12`)
      .join('');
    out += `<path d="${d}" stroke="${rug.color}" stroke-width="1"/>`;
  });
  if (o.dots) {
    const ry = rugsTop + rugs.length * rugRow;
    out += text(left - 6, ry + 10, o.dots.label, `text-anchor="end" fill="${AXIS}" font-size="11"`);
    for (const v of o.dots.values) out += `<circle cx="${n(x(v))}" cy="${n(ry + 6)}" r="3" fill="${o.dots.color}" fill-opacity="0.75"/>`;
  }
  out += text(left + plotW / 2, axisBottom + 36, o.xTitle, `text-anchor="middle" fill="${MUTED}"`);
  const midY = top + plotH / 2;
  out += text(left - 56, midY, o.yTitle, `text-anchor="middle" fill="${MUTED}" transform="rotate(-90 ${left - 56} ${n(midY)})"`);
  // legend above the plot
  const legend: LegendItem[] = [{ label: 'fp32 weights', color: '#8c96a0' }];
  if (o.lines) legend.push({ label: o.lines.label, color: o.lines.color, mark: 'dash' });
  if (o.dots) legend.push({ label: o.dots.label, color: o.dots.color, mark: 'dot' });
  out += legendRow(left, 38, legend);
  return `${out}</svg>`;
}

// ---------------------------------------------------------------------------------------------
// horizontal bars with limit lines

export interface BarItem {
  label: string;
  value: number;
  color: string;
  /** Shown after the bar. */
  valueText: string;
}

export interface LimitLine {
  value: number;
  label: string;
}

export interface BarChartOptions {
  title: string;
  items: readonly BarItem[];
  xTitle: string;
  /** Formats an axis tick. */
  format: (v: number) => string;
  /** Tick values for a scale from 0 to `max` (default: round decimal numbers). */
  ticks?: (max: number) => number[];
  /** Vertical lines (capacities); those far beyond the bars are listed under the chart instead. */
  limits?: readonly LimitLine[];
  width?: number;
}

/**
 * A bar per item from 0, with dashed limit lines (a target's memory); a limit more than 4 times the
 * largest bar is named under the chart instead, so that it does not squash the bars.
 */
export function horizontalBars(o: BarChartOptions): string {
  const width = o.width ?? 1100;
  const left = 90;
  const right = 230;
  const top = 62;
  const barH = 26;
  const gap = 12;
  const plotW = width - left - right;
  const plotH = o.items.length * (barH + gap) - gap;
  const largest = Math.max(1, ...o.items.map((i) => i.value));
  const limits = o.limits ?? [];
  // a capacity far above the largest bar would squash every bar: keep those out of the scale
  const shown = limits.filter((l) => l.value <= largest * 4);
  const offScale = limits.filter((l) => l.value > largest * 4);
  const max = Math.max(largest, ...shown.map((l) => l.value)) * 1.04;
  const x = (v: number) => left + (v / max) * plotW;
  const axisY = top + plotH + 8;
  const height = axisY + 50 + (offScale.length ? 18 : 0);
  let out = svgOpen(width, height, o.title);
  out += text(left, 16, o.title, `fill="${AXIS}" font-weight="600" font-size="14"`);
  const ticks = (o.ticks ?? ((m: number) => niceTicks(0, m, 6)))(max).filter((t) => t <= max);
  for (const t of ticks) {
    out += `<line x1="${n(x(t))}" y1="${top - 6}" x2="${n(x(t))}" y2="${axisY}" stroke="${GRID}"/>`;
    out += text(x(t), axisY + 16, o.format(t), `text-anchor="middle" fill="${AXIS}"`);
  }
  out += `<line x1="${left}" y1="${axisY}" x2="${n(left + plotW)}" y2="${axisY}" stroke="${AXIS}"/>`;
  o.items.forEach((item, i) => {
    const y0 = top + i * (barH + gap);
    out += text(left - 8, y0 + barH / 2 + 4, item.label, `text-anchor="end" fill="${AXIS}" font-weight="600"`);
    out += `<rect x="${left}" y="${n(y0)}" width="${n(Math.max(1, x(item.value) - left))}" height="${barH}" fill="${item.color}"><title>${esc(item.valueText)}</title></rect>`;
    out += text(x(item.value) + 6, y0 + barH / 2 + 4, item.valueText, `fill="${AXIS}"`);
  });
  shown.forEach((l, i) => {
    const lx = x(l.value);
    out += `<line x1="${n(lx)}" y1="${top - 10}" x2="${n(lx)}" y2="${axisY}" stroke="#111" stroke-width="2" stroke-dasharray="6 4"/>`;
    // the label ends at the line, or starts there when it would run off the chart's left edge
    const fitsLeft = lx - 4 - l.label.length * 7 >= 0;
    const anchor = fitsLeft ? `x="${n(lx - 4)}" text-anchor="end"` : `x="${n(lx + 4)}" text-anchor="start"`;
    out += `<text ${anchor} y="${n(top - 14 - (i % 2) * 12)}" fill="#111" font-weight="600">${esc(l.label)}</text>`;
  });
  out += text(left + plotW / 2, axisY + 36, o.xTitle, `text-anchor="middle" fill="${MUTED}"`);
  if (offScale.length) {
    out += text(left, height - 6, `off the scale: ${offScale.map((l) => l.label).join('; ')}`, `fill="${MUTED}" font-size="11"`);
  }
  return `${out}</svg>`;
}

// ---------------------------------------------------------------------------------------------
// line chart

export interface LineSeries {
  label: string;
  color: string;
  values: readonly number[];
}

export interface LineChartOptions {
  title: string;
  series: readonly LineSeries[];
  xTitle: string;
  yTitle: string;
  /** x of value i is i + xOffset. */
  xOffset?: number;
  /** Logarithmic y axis (values ≤ 0 are left out). */
  logY?: boolean;
  width?: number;
  height?: number;
}

/**
 * A line per series (value i at x = i + xOffset) on a linear or logarithmic (`logY`) y axis, with a legend;
 * a value that is not finite (or not positive on a log axis) breaks its line.
 */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 1100;
  const plotH = o.height ?? 240;
  const left = 70;
  const right = 16;
  const top = 46;
  const plotW = width - left - right;
  const axisY = top + plotH;
  const height = axisY + 48;
  const count = Math.max(1, ...o.series.map((s) => s.values.length));
  const offset = o.xOffset ?? 0;
  const all = o.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v) && (!o.logY || v > 0)));
  let yMin = o.logY ? Math.min(...all) : 0;
  let yMax = Math.max(...all);
  if (!all.length) {
    yMin = o.logY ? 1e-6 : 0;
    yMax = 1;
  }
  if (o.logY) {
    yMin = Math.pow(10, Math.floor(Math.log10(yMin)));
    yMax = Math.pow(10, Math.ceil(Math.log10(yMax)));
    if (yMax <= yMin) yMax = yMin * 10;
  } else if (yMax <= yMin) yMax = yMin + 1;
  const fy = (v: number) =>
    o.logY ? (Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : (v - yMin) / (yMax - yMin);
  const x = (i: number) => left + (count > 1 ? (i / (count - 1)) * plotW : plotW / 2);
  const y = (v: number) => axisY - fy(v) * plotH;
  let out = svgOpen(width, height, o.title);
  out += text(left, 16, o.title, `fill="${AXIS}" font-weight="600" font-size="14"`);
  const yTicks: { v: number; label: string }[] = [];
  if (o.logY) {
    for (let e = Math.round(Math.log10(yMin)); e <= Math.round(Math.log10(yMax)); e++) yTicks.push({ v: Math.pow(10, e), label: `1e${e}` });
  } else {
    const ticks = niceTicks(yMin, yMax, 5);
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
    for (const t of ticks) yTicks.push({ v: t, label: tickLabel(t, step) });
  }
  for (const t of yTicks) {
    out += `<line x1="${left}" y1="${n(y(t.v))}" x2="${n(left + plotW)}" y2="${n(y(t.v))}" stroke="${GRID}"/>`;
    out += text(left - 6, y(t.v) + 4, t.label, `text-anchor="end" fill="${AXIS}"`);
  }
  const xTicks = niceTicks(offset, offset + count - 1, 10).filter((t) => Number.isInteger(t));
  for (const t of xTicks) {
    const px = x(t - offset);
    out += `<line x1="${n(px)}" y1="${axisY}" x2="${n(px)}" y2="${axisY + 5}" stroke="${AXIS}"/>`;
    out += text(px, axisY + 18, String(t), `text-anchor="middle" fill="${AXIS}"`);
  }
  out += `<line x1="${left}" y1="${axisY}" x2="${n(left + plotW)}" y2="${axisY}" stroke="${AXIS}"/>`;
  out += `<line x1="${left}" y1="${top}" x2="${left}" y2="${axisY}" stroke="${AXIS}"/>`;
  for (const s of o.series) {
    let d = '';
    let pen = 'M';
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v) || (o.logY && v <= 0)) {
        pen = 'M';
        return;
      }
      d += `${pen}${n(x(i))} ${n(y(v))}`;
      pen = 'L';
    });
    if (d) out += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-linejoin="round"/>`;
  }
  out += text(left + plotW / 2, height - 8, o.xTitle, `text-anchor="middle" fill="${MUTED}"`);
  const midY = top + plotH / 2;
  out += text(14, midY, o.yTitle, `text-anchor="middle" fill="${MUTED}" transform="rotate(-90 14 ${n(midY)})"`);
  out += legendRow(
    left,
    34,
    o.series.map((s) => ({ label: s.label, color: s.color, mark: 'line' as const })),
  );
  return `${out}</svg>`;
}
