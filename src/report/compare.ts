/**
 * The quantization report as data: every scheme compared with the fp32 model, tensor by tensor
 * (src/quant/metrics.ts), as a whole model by running the reference engine (src/report/model-metrics.ts),
 * and in bytes against every known target (sizes.ts). The terminal, JSON and HTML renderings
 * (terminal.ts, json.ts, html.ts) only format a `QuantReport`; they compute nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointFormat, Config, Model, Tensor, WeightDType } from '../checkpoint/model.js';
import { parameterCount } from '../checkpoint/model.js';
import { BOS } from '../engine/generate.js';
import { projectRoot } from '../util/project-root.js';
import { q4ShapeProblem } from '../plan/plan.js';
import type { Target } from '../plan/target.js';
import {
  errorStats,
  groupGrid,
  type QuantizedTensor,
  groupOf,
  histogram,
  indexOfMaxAbs,
  perplexity,
  tensorBytes,
} from '../quant/metrics.js';
import {
  chunksForPerplexity,
  compareGreedy,
  compareOnSampledText,
  compareOnSequences,
  type Candidate,
  type ForcedStats,
  type ProgressCallback,
} from './model-metrics.js';
import { dequantizeTensor } from '../quant/q8.js';
import { describeScheme, matrixCount, quantizeModel, type QuantizedScheme } from '../quant/schemes.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { schemeSizes, type SchemeSizes } from './sizes.js';
import type { KvWindow } from '../engine/kv-window.js';

/** The prompts whose greedy continuations are compared. */
export const DEFAULT_PROMPTS: readonly string[] = ['', 'Once upon a time', 'One day', 'Lily'];

/**
 * How much each pass of the report computes unless told otherwise. Every pass runs the reference
 * engine once per position for fp32 and for every scheme, so its time grows with the model: these
 * keep the default report of a stories15M-shaped model (three schemes) under a minute on a small
 * machine (`npm run bench -- report`); give more for steadier figures (doc/report.md).
 */
export const REPORT_DEFAULTS = { sequences: 8, length: 32, seed: 1, greedyTokens: 32, evalTokens: 256, histogramBins: 81 } as const;

/** One weight matrix under one scheme, compared with its fp32 values. */
export interface TensorReport {
  /** `token_embedding`, `layers.3.wq`, `wcls` (as in src/checkpoint/layout.ts). */
  name: string;
  /** The layer, or null for the embedding and the classifier. */
  layer: number | null;
  /** `token_embedding`, `wcls`, or the matrix within its layer: `wq` `wk` `wv` `wo` `w1` `w2` `w3`. */
  kind: string;
  rows: number;
  cols: number;
  dtype: WeightDType;
  /** Null for fp32. */
  groupSize: number | null;
  bytesBefore: number;
  bytesAfter: number;
  maxAbsError: number;
  rmse: number;
  /** 10·log10(Σw² / Σ(w − ŵ)²); Infinity when the values are unchanged (JSON: null). */
  sqnrDb: number;
}

export interface GreedyResult {
  prompt: string;
  /** Identical tokens before the first difference from fp32's. */
  identical: number;
  /** Tokens compared (fp32's continuation). */
  total: number;
  tokens: number[];
  /** Where it parts from fp32: the text generated up to there, and the next token of each. */
  firstDifference: { context: string; reference: string; candidate: string } | null;
}

export interface SchemeReport {
  scheme: QuantizedScheme;
  description: string;
  groupSize: number;
  /** Why this group size, when it was chosen rather than given. */
  groupSizeReason: string | null;
  sizes: SchemeSizes;
  tensors: TensorReport[];
  /** Teacher-forced on the sequences sampled from fp32. */
  sampled: {
    positions: number;
    meanKl: number;
    maxKl: number;
    top1Agreement: number;
    /** Mean KL at each position (over the sequences). */
    klByPosition: number[];
  };
  /** On the --eval text; null without one. */
  perplexity: number | null;
  greedy: GreedyResult[];
}

/**
 * The bounded KV cache (--kv-window) against the full context: the fp32 model twice, on the same
 * sampled text (teacher forced) and after the same prompts (greedy) as the schemes.
 */
export interface KvWindowReport {
  sinks: number;
  window: number;
  /** Its rows per layer (SINKS + WINDOW): positions below this are exact. */
  rows: number;
  sampled: {
    positions: number;
    /** Mean KL(p_full ‖ p_bounded) over every position, the exact ones (KL 0) included. */
    meanKl: number;
    /** The same over the positions from `rows` on, the only ones the window changes. */
    meanKlPastWindow: number;
    maxKl: number;
    top1Agreement: number;
    klByPosition: number[];
  };
  greedy: GreedyResult[];
}

export interface HistogramReport {
  tensor: string;
  /** The scheme under which this tensor has its lowest SQNR (it is drawn with that scheme's grid). */
  scheme: QuantizedScheme;
  sqnrDb: number;
  lo: number;
  hi: number;
  counts: number[];
  /** The index (row-major) of the value with the largest magnitude: its group's grid spans the tensor's range. */
  maxAbsIndex: number;
  /** Per scheme, the grid of the group holding that value: the values `scale · k` its weights can take. */
  grids: {
    scheme: QuantizedScheme;
    dtype: WeightDType;
    groupSize: number;
    row: number;
    group: number;
    scale: number;
    levels: number[];
    /** The fp32 values of that group. */
    values: number[];
  }[];
}

export interface QuantReport {
  tool: string;
  model: {
    path: string;
    tokenizer: string;
    format: CheckpointFormat;
    config: Config;
    parameters: number;
    sharedClassifier: boolean;
  };
  settings: {
    schemes: QuantizedScheme[];
    /** The --group-size given, or null (each scheme's own choice). */
    groupSize: number | null;
    sequences: number;
    length: number;
    seed: number;
    temperature: number;
    greedyTokens: number;
    prompts: string[];
    /** The --eval text: its length in tokens, how many of them were measured (the first `used`, at most --eval-tokens), in how many chunks. */
    eval: { path: string; tokens: number; used: number; chunks: number } | null;
  };
  reference: {
    sizes: SchemeSizes;
    /** fp32's own mean −log p of its sampled tokens (in nats). */
    sampledMeanNll: number;
    perplexity: number | null;
    greedy: { prompt: string; promptTokens: number[]; tokens: number[]; text: string }[];
  };
  schemes: SchemeReport[];
  /** The bounded KV cache's cost, when --kv-window was given. */
  kvWindow: KvWindowReport | null;
  histogram: HistogramReport;
}

/** Reports progress of a phase: created with its label and total, updated with the amount done. */
export type PhaseProgress = (label: string, total: number) => { update(done: number): void; done(message?: string): void };

export interface ReportRequest {
  /** The fp32 model (a quantized checkpoint is dequantized first). */
  model: Model;
  tokenizer: Tokenizer;
  modelPath: string;
  tokenizerPath: string;
  schemes: readonly QuantizedScheme[];
  groupSize?: number;
  sequences?: number;
  length?: number;
  seed?: number;
  /** Greedy tokens after each prompt; 0 skips the greedy pass. */
  greedyTokens?: number;
  prompts?: readonly string[];
  /** A text to measure perplexity on. */
  evalText?: { path: string; text: string };
  /** Measure perplexity on at most this many tokens of the text (its first ones). */
  evalTokens?: number;
  targets: readonly Target[];
  progress?: PhaseProgress;
  /**
   * Run the candidates the integer kernels take (Q8_0; Q4_0 and mixed in the shapes q4ShapeProblem
   * accepts) with them, as an RP2040 build computes; others stay float32.
   */
  integer?: boolean;
  /** Also measure a bounded KV cache of these sinks and window against the full context (fp32). */
  kvWindow?: KvWindow;
}

interface NamedMatrix {
  name: string;
  layer: number | null;
  kind: string;
  tensor: Tensor;
}

/** The weight matrices by name: the token embedding, each layer's, then a separate classifier. */
export function namedMatrices(model: Model): NamedMatrix[] {
  const out: NamedMatrix[] = [{ name: 'token_embedding', layer: null, kind: 'token_embedding', tensor: model.tokenEmbedding }];
  model.layers.forEach((layer, l) => {
    for (const kind of ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'] as const)
      out.push({ name: `layers.${l}.${kind}`, layer: l, kind, tensor: layer[kind] });
  });
  if (!model.sharedClassifier) out.push({ name: 'wcls', layer: null, kind: 'wcls', tensor: model.classifier });
  return out;
}

/** Every matrix of `quantized` compared with the same matrix of `reference`. */
export function tensorReports(reference: Model, quantized: Model): TensorReport[] {
  const refs = namedMatrices(reference);
  return namedMatrices(quantized).map((m, i) => {
    const original = dequantizeTensor(refs[i].tensor).data;
    const stats = errorStats(original, dequantizeTensor(m.tensor).data);
    return {
      name: m.name,
      layer: m.layer,
      kind: m.kind,
      rows: m.tensor.rows,
      cols: m.tensor.cols,
      dtype: m.tensor.dtype,
      groupSize: m.tensor.dtype === 'f32' ? null : m.tensor.groupSize,
      bytesBefore: refs[i].tensor.rows * refs[i].tensor.cols * 4,
      bytesAfter: tensorBytes(m.tensor),
      maxAbsError: stats.maxAbsError,
      rmse: stats.rmse,
      sqnrDb: stats.sqnrDb,
    };
  });
}

function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string };
    return `llama2-embed ${pkg.version}`;
  } catch {
    return 'llama2-embed';
  }
}

/** The text of each token, decoded on its own (BOS shown as "⏎"), for display. */
function tokenTexts(tokenizer: Tokenizer, prev: number, ids: readonly number[]): string[] {
  const decoder = new TextDecoder();
  return ids.map((id, i) => {
    if (id === BOS) return ' ⏎ ';
    return decoder.decode(tokenizer.decode(i === 0 ? prev : ids[i - 1], id));
  });
}

function lastChars(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : `…${chars.slice(chars.length - n).join('')}`;
}

const noProgress: PhaseProgress = () => ({ update: () => {}, done: () => {} });

/** A phase's progress callback: the progress display is made on the first report, with the total reported. */
function phase(progress: PhaseProgress, label: string): { onProgress: ProgressCallback; finish: (message?: string) => void } {
  let shown: ReturnType<PhaseProgress> | undefined;
  return {
    onProgress: (done, total) => {
      shown ??= progress(label, total);
      shown.update(done);
    },
    finish: (message) => shown?.done(message),
  };
}

/** Computes the whole report. Takes a while: it runs (1 + schemes) models over every sequence, text and prompt. */
export function compareSchemes(req: ReportRequest): QuantReport {
  const progress = req.progress ?? noProgress;
  const reference = req.model;
  const sequences = req.sequences ?? REPORT_DEFAULTS.sequences;
  const length = req.length ?? REPORT_DEFAULTS.length;
  const seed = req.seed ?? REPORT_DEFAULTS.seed;
  const greedyTokens = req.greedyTokens ?? REPORT_DEFAULTS.greedyTokens;
  const prompts = [...(req.prompts ?? DEFAULT_PROMPTS)];
  const schemes = [...req.schemes];

  // 1. quantize, and compare every matrix with its fp32 values
  // quantizing a small model takes a blink: no progress lines for it
  const quantizing = phase(parameterCount(reference) >= 1_000_000 ? progress : noProgress, 'quantizing');
  const matrices = matrixCount(reference);
  const quantized = schemes.map((scheme, i) => {
    const q = quantizeModel(reference, scheme, {
      groupSize: req.groupSize,
      onProgress: (done) => quantizing.onProgress(i * matrices + done, schemes.length * matrices),
    });
    return { scheme, model: q.model, groupSize: q.groupSize as number, reason: q.choice?.reason ?? null };
  });
  quantizing.finish(schemes.join(', '));
  // the integer kernels take Q8_0, and Q4_0 (or mixed) in the shapes their row-pair matmul reads
  const integerFor = (q: (typeof quantized)[number]) =>
    Boolean(req.integer) && q4ShapeProblem(q.model.config, q.scheme, q.groupSize) === undefined;
  const integerSchemes = new Set(quantized.filter(integerFor).map((q) => q.scheme));
  const integer = (scheme: QuantizedScheme) => integerSchemes.has(scheme);
  const candidates: Candidate[] = quantized.map((q) => ({ name: q.scheme, model: q.model, integer: integer(q.scheme) }));

  // 2. divergence on text sampled from fp32
  const sampling = phase(
    progress,
    `sampling ${sequences} × ${length} tokens, comparing ${schemes.length} scheme${schemes.length === 1 ? '' : 's'}`,
  );
  // the bounded KV cache rides along as one more candidate: fp32 with the window, on the same text
  const window: Candidate[] = req.kvWindow
    ? [{ name: `kv ${req.kvWindow.sinks}+${req.kvWindow.window}`, model: reference, kvWindow: req.kvWindow }]
    : [];
  const sampled = compareOnSampledText(reference, [...candidates, ...window], { sequences, length, seed, onProgress: sampling.onProgress });
  sampling.finish(`${sequences * length} positions`);

  // 3. perplexity on the --eval text
  let evalSettings: QuantReport['settings']['eval'] = null;
  let evalResult: ReturnType<typeof compareOnSequences> | undefined;
  if (req.evalText) {
    const textTokens = req.tokenizer.encode(req.evalText.text, false, false);
    const used = textTokens.slice(0, req.evalTokens ?? REPORT_DEFAULTS.evalTokens);
    const chunks = chunksForPerplexity(used, reference.config.seqLen);
    evalSettings = { path: req.evalText.path, tokens: textTokens.length, used: used.length, chunks: chunks.length };
    if (chunks.length > 0) {
      const of = used.length < textTokens.length ? ` of ${textTokens.length}` : '';
      const evaluating = phase(progress, `perplexity on ${used.length}${of} tokens`);
      evalResult = compareOnSequences(reference, candidates, chunks, evaluating.onProgress);
      evaluating.finish(`${chunks.length} chunk${chunks.length === 1 ? '' : 's'}`);
    }
  }

  // 4. greedy continuations
  // (with no tokens to generate there is nothing to compare: no prompts, no pass)
  if (greedyTokens === 0) prompts.length = 0;
  const greedyPrompts = prompts.map((text) => ({ text, tokens: req.tokenizer.encode(text, true, false) }));
  const greedying = phase(progress, `greedy ${greedyTokens} tokens after ${prompts.length} prompts`);
  const greedy = compareGreedy(reference, [...candidates, ...window], greedyPrompts, greedyTokens, greedying.onProgress);
  greedying.finish(`${prompts.length * (1 + candidates.length + window.length)} continuations`);

  // 5. sizes
  const referenceSizes = schemeSizes(reference, 'f32', undefined, req.targets);

  const schemeReports: SchemeReport[] = quantized.map((q, i) => {
    const s = sampled.candidates[i];
    return {
      scheme: q.scheme,
      description:
        describeScheme(q.scheme) + (integer(q.scheme) ? ', run with the integer kernels (Q16.16 activations, int8 KV cache)' : ''),
      groupSize: q.groupSize,
      groupSizeReason: q.reason,
      sizes: schemeSizes(q.model, q.scheme, q.groupSize, req.targets),
      tensors: tensorReports(reference, q.model),
      sampled: { positions: s.positions, meanKl: s.meanKl, maxKl: s.maxKl, top1Agreement: s.top1Agreement, klByPosition: s.klByPosition },
      perplexity: evalResult
        ? perplexity(evalResult.candidates[i].meanNll * evalResult.candidates[i].positions, evalResult.candidates[i].positions)
        : null,
      greedy: greedyResults(req.tokenizer, greedy, i),
    };
  });
  const kvWindow = req.kvWindow
    ? kvWindowReport(req.kvWindow, sampled.candidates.at(-1)!, greedyResults(req.tokenizer, greedy, candidates.length))
    : null;

  return {
    tool: toolVersion(),
    model: {
      path: req.modelPath,
      tokenizer: req.tokenizerPath,
      format: reference.format,
      config: { ...reference.config },
      parameters: parameterCount(reference),
      sharedClassifier: reference.sharedClassifier,
    },
    settings: {
      schemes,
      groupSize: req.groupSize ?? null,
      sequences,
      length,
      seed,
      temperature: 1,
      greedyTokens,
      prompts,
      eval: evalSettings,
    },
    reference: {
      sizes: referenceSizes,
      sampledMeanNll: sampled.reference.meanNll,
      perplexity: evalResult
        ? perplexity(evalResult.reference.meanNll * evalResult.reference.positions, evalResult.reference.positions)
        : null,
      greedy: greedy.map((g) => ({
        prompt: g.prompt.text,
        promptTokens: g.prompt.tokens,
        tokens: g.reference,
        text: tokenTexts(req.tokenizer, g.prompt.tokens.at(-1)!, g.reference).join(''),
      })),
    },
    schemes: schemeReports,
    histogram: histogramReport(reference, quantized, schemeReports),
    kvWindow,
  };
}

/** Candidate `i`'s greedy continuations against the reference's: how far each is identical, and where it parts. */
function greedyResults(tokenizer: Tokenizer, greedy: ReturnType<typeof compareGreedy>, i: number): GreedyResult[] {
  return greedy.map((g) => {
    const c = g.candidates[i];
    let firstDifference: GreedyResult['firstDifference'] = null;
    if (c.identical < c.total) {
      const promptText = tokenTexts(tokenizer, BOS, g.prompt.tokens.slice(1)).join('');
      const common = tokenTexts(tokenizer, g.prompt.tokens.at(-1)!, g.reference.slice(0, c.identical)).join('');
      const prev = c.identical > 0 ? g.reference[c.identical - 1] : g.prompt.tokens.at(-1)!;
      firstDifference = {
        context: lastChars(promptText + common, 60),
        reference: tokenTexts(tokenizer, prev, [g.reference[c.identical]])[0],
        candidate: tokenTexts(tokenizer, prev, [c.tokens[c.identical]])[0],
      };
    }
    return { prompt: g.prompt.text, identical: c.identical, total: c.total, tokens: c.tokens, firstDifference };
  });
}

/** The bounded cache's figures from its run as a candidate: the mean KL also over the positions past its rows alone. */
function kvWindowReport(kv: KvWindow, s: ForcedStats, greedy: GreedyResult[]): KvWindowReport {
  const rows = kv.sinks + kv.window;
  // every sequence has the same length: the mean over positions ≥ rows is the mean of their per-position means
  const past = s.klByPosition.slice(rows);
  const meanKlPastWindow = past.length > 0 ? past.reduce((a, b) => a + b, 0) / past.length : 0;
  return {
    sinks: kv.sinks,
    window: kv.window,
    rows,
    sampled: {
      positions: s.positions,
      meanKl: s.meanKl,
      meanKlPastWindow,
      maxKl: s.maxKl,
      top1Agreement: s.top1Agreement,
      klByPosition: s.klByPosition,
    },
    greedy,
  };
}

/** The histogram of the matrix with the lowest SQNR, with the grid of the group holding its largest value under each scheme. */
function histogramReport(
  reference: Model,
  quantized: { scheme: QuantizedScheme; model: Model }[],
  reports: SchemeReport[],
): HistogramReport {
  let worst = { scheme: reports[0].scheme, index: 0, sqnr: Infinity };
  reports.forEach((r) =>
    r.tensors.forEach((t, index) => {
      if (t.sqnrDb < worst.sqnr) worst = { scheme: r.scheme, index, sqnr: t.sqnrDb };
    }),
  );
  const ref = namedMatrices(reference)[worst.index];
  const values = dequantizeTensor(ref.tensor).data;
  const maxAbsIndex = indexOfMaxAbs(values);
  const extreme = Math.abs(values[maxAbsIndex]) || 1;
  const bins = REPORT_DEFAULTS.histogramBins;
  // symmetric around 0, a little wider than the largest magnitude so that the extreme levels show
  const h = histogram(values, bins, -extreme * 1.08, extreme * 1.08);
  // the scheme with the lowest SQNR first: its grid is the one drawn over the histogram
  const ordered = [...quantized].sort((a, b) => (a.scheme === worst.scheme ? -1 : b.scheme === worst.scheme ? 1 : 0));
  const grids = ordered.flatMap((q) => {
    const t = namedMatrices(q.model)[worst.index].tensor;
    if (t.dtype === 'f32') return [];
    const { row, group } = groupOf(maxAbsIndex, t.cols, t.groupSize);
    const grid = groupGrid(t as QuantizedTensor, row, group);
    const start = row * t.cols + group * t.groupSize;
    const groupValues = Array.from(values.subarray(start, Math.min(start + t.groupSize, (row + 1) * t.cols)));
    return [
      { scheme: q.scheme, dtype: t.dtype, groupSize: t.groupSize, row, group, scale: grid.scale, levels: grid.levels, values: groupValues },
    ];
  });
  return { tensor: ref.name, scheme: worst.scheme, sqnrDb: worst.sqnr, lo: h.lo, hi: h.hi, counts: h.counts, maxAbsIndex, grids };
}
