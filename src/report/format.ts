/** Number formats shared by the terminal and HTML renderings, so both show the same figures. */
import { formatBytes } from '../util/progress.js';
import type { SchemeReport, TensorReport } from './compare.js';

/** KL divergence in nats: three significant digits ("0.00113", "0.0955", "2.80"). */
export function formatKl(x: number): string {
  if (x === 0) return '0';
  return x < 1e-4 ? x.toExponential(2) : x.toPrecision(3);
}

/** A share as a percentage with one decimal ("98.0%"). */
export function formatPercent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** SQNR: one decimal and "dB"; "exact" when nothing changed. */
export function formatDb(x: number): string {
  if (x === Infinity) return 'exact';
  if (x === -Infinity) return '-inf dB';
  return `${x.toFixed(1)} dB`;
}

/** A weight error (max |error|, RMSE): three significant digits, exponent form ("1.23e-3"). */
export function formatError(x: number): string {
  return x === 0 ? '0' : x.toExponential(2);
}

/** Perplexity: two decimals. */
export function formatPerplexity(x: number | null): string {
  return x === null ? '-' : x.toFixed(2);
}

/** Bytes as "1,056,512 (1.0 MiB)". */
export function formatByteCount(n: number): string {
  return `${n.toLocaleString('en-US')} (${formatBytes(n)})`;
}

/** `part` as a share of `whole`, e.g. "17.2%". */
export function formatShare(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

/** A prompt for display: quoted, "(BOS only)" for the empty one. */
export function formatPrompt(prompt: string): string {
  return prompt === '' ? '(BOS only)' : `"${prompt}"`;
}

/** Colours of the schemes in charts (Okabe-Ito, readable by the colour-blind); fp32 in grey. */
export const SCHEME_COLORS: Record<string, string> = {
  f32: '#5f6b76',
  q8_0: '#0072b2',
  q4_0: '#d55e00',
  mixed: '#009e73',
};

/** The bounded KV cache's colour in charts (Okabe-Ito's reddish purple, beside the schemes'). */
export const KV_WINDOW_COLOR = '#cc79a7';

/** How many matrices both renderings single out per scheme as its worst (lowest SQNR). */
export const WORST_TENSORS = 3;

/** A scheme's `WORST_TENSORS` matrices of lowest SQNR, lowest first. */
export function worstTensors(x: SchemeReport): TensorReport[] {
  return [...x.tensors].sort((a, b) => a.sqnrDb - b.sqnrDb).slice(0, WORST_TENSORS);
}
