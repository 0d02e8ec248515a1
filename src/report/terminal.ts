/**
 * The report as text for a terminal: what was compared, the error of every matrix per scheme,
 * then (so that it is what stays on screen) the summary, the greedy divergences and the verdicts.
 */
import { formatBytes } from '../util/progress.js';
import { formatTable } from '../util/table.js';
import type { QuantReport, SchemeReport } from './compare.js';
import { formatByteCount, formatDb, formatError, formatKl, formatPercent, formatPerplexity, formatPrompt, formatShare } from './format.js';

export function formatReport(r: QuantReport): string {
  const c = r.model.config;
  const s = r.settings;
  const out: string[] = [];
  out.push(`Quantization report for ${r.model.path}`);
  out.push(
    `  dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} KV), vocab ${c.vocabSize}, seq_len ${c.seqLen}; ` +
      `${r.model.parameters.toLocaleString('en-US')} parameters${r.model.sharedClassifier ? ', classifier shared with the embedding' : ''}`,
  );
  out.push(
    `  compared with fp32: ${r.schemes.map((x) => `${x.scheme} (group size ${x.groupSize})`).join(', ')}; ` +
      `${s.sequences} sampled sequences × ${s.length} tokens (seed ${s.seed}, temperature ${s.temperature})`,
  );
  out.push('');

  for (const scheme of r.schemes) {
    out.push(`Weights, ${scheme.scheme} (${scheme.description.replace(`${scheme.scheme}: `, '')}), group size ${scheme.groupSize}`);
    out.push(tensorTable(scheme));
    out.push('');
  }

  out.push('Summary (KL and top-1: next-token distributions on the sampled text, against fp32)');
  out.push(summaryTable(r));
  out.push('');

  out.push(`Greedy tokens identical to fp32's before the first difference (of ${s.greedyTokens} after each prompt)`);
  out.push(
    formatTable(
      ['prompt', ...r.schemes.map((x) => x.scheme)],
      s.prompts.map((prompt, p) => [formatPrompt(prompt), ...r.schemes.map((x) => `${x.greedy[p].identical} / ${x.greedy[p].total}`)]),
      { align: ['left', ...r.schemes.map(() => 'right' as const)], indent: '  ' },
    ),
  );
  out.push('');

  out.push('Targets (the memory that holds the weights)');
  const rows: string[][] = [];
  const all = [{ scheme: 'f32', sizes: r.reference.sizes }, ...r.schemes];
  const targetNames = r.reference.sizes.targets.map((t) => t.target);
  for (const [i, name] of targetNames.entries()) {
    for (const x of all) {
      const v = x.sizes.targets[i];
      rows.push([name, x.scheme, `${v.fits ? '' : 'NO: '}${v.verdict}`]);
    }
  }
  out.push(formatTable(['target', 'scheme', 'verdict'], rows, { indent: '  ' }));
  for (const v of r.reference.sizes.targets) {
    if (v.state && !v.state.fits && v.state.capacity !== null) {
      out.push(
        `  note: on ${v.target} the run state (KV cache at seq_len ${c.seqLen}, activations) needs ${formatBytes(v.state.needed)} of ` +
          `${v.state.memory}, which has ${formatBytes(v.state.capacity)}, with float kernels: see llama2-embed plan --target ${v.target} (--seq-len, --arithmetic).`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

function tensorTable(scheme: SchemeReport): string {
  const rows = scheme.tensors.map((t) => [
    t.name,
    `${t.rows}×${t.cols}`,
    t.dtype,
    t.bytesBefore.toLocaleString('en-US'),
    t.bytesAfter.toLocaleString('en-US'),
    formatError(t.maxAbsError),
    formatError(t.rmse),
    formatDb(t.sqnrDb),
  ]);
  return formatTable(['tensor', 'shape', 'as', 'fp32 bytes', 'bytes', 'max |err|', 'RMSE', 'SQNR'], rows, {
    align: ['left', 'right', 'left', 'right', 'right', 'right', 'right', 'right'],
    indent: '  ',
  });
}

function summaryTable(r: QuantReport): string {
  const withEval = r.settings.eval !== null;
  const ref = r.reference.sizes;
  const headers = ['scheme', 'group', 'weights (bytes)', 'of fp32', 'mean KL', 'max KL', 'top-1', 'worst SQNR', ...(withEval ? ['perplexity'] : [])];
  const rows: string[][] = [
    ['f32', '-', formatByteCount(ref.weightBytes), '100.0%', '-', '-', '-', '-', ...(withEval ? [formatPerplexity(r.reference.perplexity)] : [])],
  ];
  for (const x of r.schemes) {
    const worst = x.tensors.reduce((a, b) => (b.sqnrDb < a.sqnrDb ? b : a));
    rows.push([
      x.scheme,
      String(x.groupSize),
      formatByteCount(x.sizes.weightBytes),
      formatShare(x.sizes.weightBytes, ref.weightBytes),
      formatKl(x.sampled.meanKl),
      formatKl(x.sampled.maxKl),
      formatPercent(x.sampled.top1Agreement),
      `${formatDb(worst.sqnrDb)} (${worst.name})`,
      ...(withEval ? [formatPerplexity(x.perplexity)] : []),
    ]);
  }
  const table = formatTable(headers, rows, {
    align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'right'],
    indent: '  ',
  });
  const evalLine = withEval ? `\n  perplexity on ${r.settings.eval!.path}: ${r.settings.eval!.tokens.toLocaleString('en-US')} tokens` : '';
  return table + evalLine;
}
