/**
 * The report as JSON for machines (`--json FILE`, or stdout with `--json` alone). The shape is `QuantReport` (compare.ts) with
 * two fields in front that identify it:
 *
 *   { "format": "llama2-embed-quant-report", "version": 1, "tool": ..., "model": ..., "settings": ...,
 *     "reference": ..., "schemes": [...], "histogram": ..., "kvWindow": ... }
 *
 * Numbers that JSON cannot hold become null: the SQNR of a matrix that quantization left unchanged
 * (Infinity). Fields are only ever added within a version; a change of meaning or a removal raises
 * `version`. One exception, while no consumer outside this repository reads the document: version 1
 * dropped the targets' `estimated` flag when the planner learned to lay out Q4_0 (doc/report.md).
 * doc/report.md describes every field.
 */
import type { QuantReport } from './compare.js';

export const REPORT_JSON_FORMAT = 'llama2-embed-quant-report';
export const REPORT_JSON_VERSION = 1;

export type QuantReportJson = { format: typeof REPORT_JSON_FORMAT; version: typeof REPORT_JSON_VERSION } & QuantReport;

/**
 * The report as a JSON document: two-space indented, arrays of numbers (token ids, counts, levels)
 * on one line each, a newline at the end.
 */
export function reportToJson(report: QuantReport): string {
  const doc = { format: REPORT_JSON_FORMAT, version: REPORT_JSON_VERSION, ...report };
  const text = JSON.stringify(doc, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2);
  return `${text.replace(NUMBER_ARRAY, (array) => array.replace(/\s+/g, ''))}\n`;
}

/** An array whose elements are all numbers or null, as JSON.stringify indents it. */
const NUMBER_ARRAY = /\[(?:\s*(?:-?\d[\d.eE+-]*|null)\s*,)*\s*(?:-?\d[\d.eE+-]*|null)\s*\]/g;
