/**
 * Plain-text tables for terminal output: columns padded to their widest cell, two spaces between
 * columns, a dashed rule under the header, no trailing spaces.
 *
 *   formatTable(['tensor', 'bytes'], [['wq', '81,920']], { align: ['left', 'right'] })
 *   tensor   bytes
 *   ------  ------
 *   wq      81,920
 */

export type ColumnAlign = 'left' | 'right';

export interface TableOptions {
  /** Per column; missing entries are 'left'. */
  align?: readonly ColumnAlign[];
  /** Put before every line (e.g. two spaces to indent the table). */
  indent?: string;
  /** Draw the dashed rule under the header (default true). */
  rule?: boolean;
}

export type Cell = string | number;

/** Renders a table; returns its lines joined by '\n', without a final newline. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const columns = Math.max(headers.length, ...rows.map((r) => r.length));
  const text = (cells: readonly Cell[]): string[] => Array.from({ length: columns }, (_, i) => String(cells[i] ?? ''));
  const headerCells = text(headers);
  const bodyCells = rows.map(text);
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(displayWidth(headerCells[i]), ...bodyCells.map((r) => displayWidth(r[i]))),
  );
  const line = (cells: string[]): string => {
    const padded = cells.map((cell, i) => {
      const pad = ' '.repeat(widths[i] - displayWidth(cell));
      return options.align?.[i] === 'right' ? pad + cell : cell + pad;
    });
    return ((options.indent ?? '') + padded.join('  ')).trimEnd();
  };
  const lines: string[] = [];
  if (headers.length > 0) {
    lines.push(line(headerCells));
    if (options.rule ?? true) lines.push(line(widths.map((w) => '-'.repeat(w))));
  }
  for (const row of bodyCells) lines.push(line(row));
  return lines.join('\n');
}

/** Width on a terminal: code points, not UTF-16 units (good enough for the text we print). */
function displayWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
