/**
 * The report as text for a terminal. By default a short summary: what was compared, one line
 * per scheme (size, KL, top-1 and greedy agreement), the matrices with the lowest SQNR, and one
 * verdict line per target. `verbose` adds, after it, every matrix's figures per scheme and the
 * greedy divergence per prompt.
 */
import { formatBytes } from '../util/progress.js';
import { formatTable } from '../util/table.js';
import type { KvWindowReport, QuantReport, SchemeReport } from './compare.js';
import { fitLine, targetFits } from './fit.js';
import { formatDb, formatError, formatKl, formatPercent, formatPerplexity, formatPrompt, formatShare, worstTensors } from './format.js';

export interface TerminalOptions {
  /** Every tensor per scheme and every prompt after the summary. */
  verbose?: boolean;
}

/** The report as terminal text (the summary above; `verbose` adds every matrix and prompt), ending in a newline. */
export function formatReport(r: QuantReport, options: TerminalOptions = {}): string {
  const c = r.model.config;
  const s = r.settings;
  const out: string[] = [];
  out.push(`Quantization report for ${r.model.path}`);
  out.push(
    `  dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} KV), vocab ${c.vocabSize}, seq_len ${c.seqLen}; ` +
      `${r.model.parameters.toLocaleString('en-US')} parameters${r.model.sharedClassifier ? ', classifier shared with the embedding' : ''}`,
  );
  const integer = (x: SchemeReport) => (x.description.includes('integer kernels') ? ', run with the integer kernels' : '');
  out.push(`  compared with fp32: ${r.schemes.map((x) => `${x.scheme} (group size ${x.groupSize}${integer(x)})`).join(', ')}`);
  const passes = [`${s.sequences} sampled sequences × ${s.length} tokens (seed ${s.seed}, temperature ${s.temperature})`];
  if (s.prompts.length > 0) passes.push(`${s.greedyTokens} greedy tokens after ${s.prompts.length} prompts`);
  if (s.eval) passes.push(`perplexity on ${evalExtent(r)}`);
  out.push(`  on ${passes.join('; ')}`);
  out.push('');

  out.push('Summary (KL and top-1: next-token distributions on the sampled text, against fp32)');
  out.push(summaryTable(r));
  out.push('');

  if (r.kvWindow) {
    out.push(...kvWindowLines(r.kvWindow));
    out.push('');
  }

  out.push('Lowest SQNR (the matrices quantization moved most)');
  out.push(
    formatTable(
      ['scheme', 'matrices'],
      r.schemes.map((x) => [x.scheme, worstList(x)]),
      { indent: '  ' },
    ),
  );
  out.push('');

  out.push('Targets (what the memory plan puts in each memory, against its size)');
  const fits = targetFits(r);
  out.push(
    formatTable(
      ['target', 'memory', 'verdict'],
      fits.map((f) => [f.target, f.limits, fitLine(f)]),
      { indent: '  ' },
    ),
  );
  if (fits.some((f) => f.failing))
    out.push(`  what would make it fit: llama2-embed plan --target TARGET --quant SCHEME (a shorter --seq-len, other arithmetic)`);

  if (options.verbose) {
    out.push('');
    if (s.prompts.length > 0) {
      out.push(`Greedy tokens identical to fp32's before the first difference (of ${s.greedyTokens} after each prompt)`);
      out.push(
        formatTable(
          ['prompt', ...r.schemes.map((x) => x.scheme)],
          s.prompts.map((prompt, p) => [formatPrompt(prompt), ...r.schemes.map((x) => `${x.greedy[p].identical} / ${x.greedy[p].total}`)]),
          { align: ['left', ...r.schemes.map(() => 'right' as const)], indent: '  ' },
        ),
      );
      out.push('');
    }
    for (const scheme of r.schemes) {
      out.push(`Weights, ${scheme.scheme} (${scheme.description.replace(`${scheme.scheme}: `, '')}), group size ${scheme.groupSize}`);
      out.push(tensorTable(scheme));
      out.push('');
    }
    out.pop();
  } else {
    out.push('');
    out.push('--verbose: every matrix and every prompt; --out FILE: the same with charts (HTML); --json: for scripts');
  }
  return `${out.join('\n')}\n`;
}

/** The bounded KV cache against the full context (fp32 both): KL past the window, top-1, and where each greedy text parts. */
function kvWindowLines(kv: KvWindowReport): string[] {
  const x = kv.sampled;
  const greedy = kv.greedy.map((g) => (g.identical < g.total ? `${g.identical} / ${g.total}` : `all ${g.total}`));
  return [
    `Bounded KV cache --kv-window ${kv.sinks}+${kv.window} (an approximation past ${kv.rows} positions), fp32 against the full context`,
    `  on the sampled text: mean KL ${formatKl(x.meanKlPastWindow)} nats over the positions past ${kv.rows} (${formatKl(x.meanKl)} over all), ` +
      `max ${formatKl(x.maxKl)}, top-1 agreement ${formatPercent(x.top1Agreement)}`,
    ...(greedy.length > 0 ? [`  greedy tokens identical before the first difference, per prompt: ${greedy.join(', ')}`] : []),
  ];
}

/** "the first 256 of 1,024 tokens of story.txt". */
function evalExtent(r: QuantReport): string {
  const e = r.settings.eval!;
  const of = e.used < e.tokens ? `the first ${e.used.toLocaleString('en-US')} of ` : '';
  return `${of}${e.tokens.toLocaleString('en-US')} tokens of ${e.path}`;
}

/** "layers.0.wv 20.4 dB, layers.4.wo 20.6 dB, …": the scheme's matrices of lowest SQNR. */
function worstList(x: SchemeReport): string {
  return worstTensors(x)
    .map((t) => `${t.name} ${formatDb(t.sqnrDb)}`)
    .join(', ');
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
  const withGreedy = r.settings.prompts.length > 0;
  const ref = r.reference.sizes;
  const headers = [
    'scheme',
    'group',
    'weights',
    'of fp32',
    'mean KL',
    'max KL',
    'top-1',
    ...(withGreedy ? ['greedy identical'] : []),
    ...(withEval ? ['perplexity'] : []),
  ];
  const rows: string[][] = [
    [
      'f32',
      '-',
      formatBytes(ref.weightBytes),
      '100.0%',
      '-',
      '-',
      '-',
      ...(withGreedy ? ['-'] : []),
      ...(withEval ? [formatPerplexity(r.reference.perplexity)] : []),
    ],
  ];
  for (const x of r.schemes) {
    const identical = x.greedy.reduce((a, g) => a + g.identical, 0);
    const total = x.greedy.reduce((a, g) => a + g.total, 0);
    rows.push([
      x.scheme,
      String(x.groupSize),
      formatBytes(x.sizes.weightBytes),
      formatShare(x.sizes.weightBytes, ref.weightBytes),
      formatKl(x.sampled.meanKl),
      formatKl(x.sampled.maxKl),
      formatPercent(x.sampled.top1Agreement),
      ...(withGreedy ? [`${identical} / ${total}`] : []),
      ...(withEval ? [formatPerplexity(x.perplexity)] : []),
    ]);
  }
  return formatTable(headers, rows, { align: ['left', ...headers.slice(1).map(() => 'right' as const)], indent: '  ' });
}
