/**
 * `llama2-embed report`: what quantization costs, in numbers and pictures. Quantizes the model
 * with each scheme, compares every matrix with its fp32 values, runs the reference engine on
 * text sampled from the fp32 model (KL divergence, top-1 agreement), on an optional text
 * (perplexity) and on a few prompts (greedy divergence), sizes each scheme against every known
 * target, and prints a short summary (`--verbose`: every tensor too; `--quiet`: nothing);
 * `--json` and `--out` give the same as JSON (to a file or stdout) and as one HTML page.
 * Every option is checked before the long part starts. See doc/report.md.
 */
import { readFileSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadForGeneration } from '../engine/load.js';
import { knownTargets, loadTarget } from '../plan/target.js';
import { QUANTIZED_SCHEMES, schemeOf, type QuantizedScheme } from '../quant/schemes.js';
import { REPORT_DEFAULTS, compareSchemes, type QuantReport } from '../report/compare.js';
import { reportToHtml } from '../report/html.js';
import { reportToJson } from '../report/json.js';
import { formatReport } from '../report/terminal.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkInputFile, checkOutputFile } from '../util/paths.js';
import { UserError, describeError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { OutputSink } from './output.js';
import { checkKvWindow, parseKvWindow, type KvWindow } from '../engine/kv-window.js';

interface ReportArgs {
  model?: string;
  tokenizer?: string;
  quant: string;
  groupSize?: number;
  arithmetic: 'float' | 'integer';
  sequences: number;
  length: number;
  greedyTokens: number;
  seed: number;
  eval?: string;
  evalTokens: number;
  kvWindow?: string;
  out?: string;
  json?: string;
  verbose: boolean;
  quiet: boolean;
}

/** Parses `--quant q8_0,q4_0,mixed`: known schemes, each once, in the order given. */
export function parseSchemes(value: string): QuantizedScheme[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UserError(`--quant needs at least one scheme: ${QUANTIZED_SCHEMES.join(', ')}.`, 2);
  const out: QuantizedScheme[] = [];
  for (const name of names) {
    if (name === 'f32')
      throw new UserError('--quant f32: fp32 is the reference every scheme is compared with; list only q8_0, q4_0, mixed.', 2);
    if (!(QUANTIZED_SCHEMES as readonly string[]).includes(name)) {
      throw new UserError(`--quant: unknown scheme "${name}". Known schemes: ${QUANTIZED_SCHEMES.join(', ')} (comma-separated).`, 2);
    }
    if (!out.includes(name as QuantizedScheme)) out.push(name as QuantizedScheme);
  }
  return out;
}

/** `value` as a whole number from `min` to `max`, or a usage error naming `--flag`. */
function wholeNumber(flag: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UserError(`--${flag} must be a whole number from ${min} to ${max.toLocaleString('en-US')}, got ${value}.`, 2);
  }
  return value;
}

/** `--json` with no file name: the JSON goes to stdout. */
function jsonToStdout(json: string | undefined): boolean {
  return json !== undefined && json.trim() === '';
}

function readEvalText(path: string): { path: string; text: string } {
  let text: string;
  try {
    checkInputFile(path, `--eval ${path}`, 'a text file');
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : describeError(err);
    throw new UserError(`--eval ${path}: cannot read the text to measure perplexity on (${why}).`);
  }
  if (text.trim() === '') throw new UserError(`--eval ${path} is empty: give a text to measure perplexity on.`);
  return { path, text };
}

/** Every option checked, every input read: what the report will run with. */
interface CheckedOptions {
  schemes: QuantizedScheme[];
  sequences: number;
  length: number;
  greedyTokens: number;
  seed: number;
  evalTokens: number;
  evalText?: { path: string; text: string };
  kvWindow?: KvWindow;
  /** File to write the JSON to; undefined for none or stdout (`jsonToStdout`). */
  jsonFile?: string;
}

/**
 * Checks every option before anything long starts: numbers, schemes, the --eval text (read here),
 * the output directories. What depends on the model (--length, --greedy-tokens and --kv-window
 * against its seq_len) is checked by `checkAgainstModel` right after loading it.
 */
function checkOptions(args: ReportArgs): CheckedOptions {
  const schemes = parseSchemes(args.quant);
  const sequences = wholeNumber('sequences', args.sequences, 1, 100_000);
  const length = wholeNumber('length', args.length, 1);
  const greedyTokens = wholeNumber('greedy-tokens', args.greedyTokens, 0);
  const seed = wholeNumber('seed', args.seed, 1);
  const evalTokens = wholeNumber('eval-tokens', args.evalTokens, 1);
  if (args.groupSize !== undefined) wholeNumber('group-size', args.groupSize, 1, 1 << 20);
  const kvWindow = args.kvWindow === undefined ? undefined : parseKvWindow(args.kvWindow);
  const jsonFile = args.json === undefined || jsonToStdout(args.json) ? undefined : args.json;
  for (const [flag, path] of [
    ['--out', args.out],
    ['--json', jsonFile],
  ] as const) {
    if (path !== undefined) checkOutputFile(path, { flag, inputs: [args.eval] });
  }
  const evalText = args.eval === undefined ? undefined : readEvalText(args.eval);
  return { schemes, sequences, length, greedyTokens, seed, evalTokens, evalText, kvWindow, jsonFile };
}

function checkAgainstModel(o: CheckedOptions, seqLen: number): void {
  if (o.length > seqLen)
    throw new UserError(`--length ${o.length} is longer than the model's context (seq_len ${seqLen}); use at most ${seqLen}.`, 2);
  if (o.greedyTokens > seqLen) {
    throw new UserError(
      `--greedy-tokens ${o.greedyTokens} is more than the model's context holds (seq_len ${seqLen}); use at most ${seqLen}.`,
      2,
    );
  }
  if (o.kvWindow) checkWindowAgainst(o, o.kvWindow, seqLen);
}

/** --kv-window against the model's context, then against --length and --greedy-tokens: the text must go past its rows. */
function checkWindowAgainst(o: CheckedOptions, kvWindow: KvWindow, seqLen: number): void {
  checkKvWindow(kvWindow, seqLen, "the model's context (seq_len)");
  const { length, greedyTokens } = o;
  const given = `${kvWindow.sinks}+${kvWindow.window}`;
  const rows = kvWindow.sinks + kvWindow.window;
  const more = Math.min(seqLen, rows * 2);
  if (length <= rows) {
    throw new UserError(
      `--kv-window ${given} is exact for the first ${rows} positions, and --length ${length} measures no further: use --length ${more} (or more than ${rows}).`,
      2,
    );
  }
  if (greedyTokens > 0 && greedyTokens <= rows) {
    throw new UserError(
      `--kv-window ${given} is exact for the first ${rows} positions, and --greedy-tokens ${greedyTokens} generates no further: use --greedy-tokens ${more} (or more than ${rows}; 0 for no greedy pass).`,
      2,
    );
  }
}

/** Runs the whole report as the command does; returns it (for tests) after printing and writing it. */
export function runReport(args: ReportArgs): QuantReport {
  const o = checkOptions(args);
  const loaded = loadForGeneration({ model: args.model, tokenizer: args.tokenizer, weights: 'f32' });
  checkAgainstModel(o, loaded.model.config.seqLen);
  // the model and tokenizer are known once found: no output may replace them (--out MODEL wrote HTML over it)
  for (const [flag, path] of [
    ['--out', args.out],
    ['--json', o.jsonFile],
  ] as const) {
    if (path !== undefined) checkOutputFile(path, { flag, inputs: [loaded.modelPath, loaded.tokenizerPath, args.eval] });
  }
  const targets = knownTargets().map(loadTarget);
  const log = (line: string) => {
    if (!args.quiet) process.stderr.write(`${line}\n`);
  };
  const stored = schemeOf(loaded.model);
  if (stored && stored.scheme !== 'f32') log(`note: the reference is the dequantized ${stored.scheme} weights of ${loaded.modelPath}`);

  const report = compareSchemes({
    model: loaded.model,
    tokenizer: loaded.tokenizer,
    modelPath: loaded.modelPath,
    tokenizerPath: loaded.tokenizerPath,
    schemes: o.schemes,
    groupSize: args.groupSize,
    sequences: o.sequences,
    length: o.length,
    seed: o.seed,
    greedyTokens: o.greedyTokens,
    evalText: o.evalText,
    evalTokens: o.evalTokens,
    targets,
    integer: args.arithmetic === 'integer',
    kvWindow: o.kvWindow,
    progress: (label, total) => new Progress(label, total, { quiet: args.quiet, unit: 'items' }),
  });

  const stdout = new OutputSink(process.stdout);
  if (jsonToStdout(args.json)) stdout.write(reportToJson(report));
  else if (!args.quiet) stdout.write(formatReport(report, { verbose: args.verbose }));
  if (o.jsonFile !== undefined) {
    writeFileAtomic(o.jsonFile, [Buffer.from(reportToJson(report), 'utf8')]);
    log(`wrote ${o.jsonFile}`);
  }
  if (args.out !== undefined) {
    writeFileAtomic(args.out, [Buffer.from(reportToHtml(report), 'utf8')]);
    log(`wrote ${args.out}`);
  }
  return report;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report',
  describe: 'what quantization costs: error per tensor, KL divergence, top-1 agreement, perplexity, sizes (terminal, JSON, HTML)',
  builder: (y: Argv<object>): Argv<ReportArgs> =>
    y
      .option('model', {
        alias: 'm',
        type: 'string',
        describe: 'checkpoint (.bin), a path or a name found by the model lookup (default: stories260K.bin)',
      })
      .option('tokenizer', { alias: 'z', type: 'string', describe: 'tokenizer.bin (default: the one that goes with the model)' })
      .option('quant', { type: 'string', default: QUANTIZED_SCHEMES.join(','), describe: 'schemes to compare with fp32, comma-separated' })
      .option('arithmetic', {
        choices: ['float', 'integer'] as const,
        default: 'float' as const,
        describe:
          'run the candidates the integer kernels take (q8_0; q4_0 and mixed of even shapes) with them, as an RP2040 build computes, to measure their cost too',
      })
      .option('group-size', { type: 'number', describe: 'values per scale, for every scheme (default: chosen for each scheme)' })
      .option('sequences', { type: 'number', default: REPORT_DEFAULTS.sequences, describe: 'sequences sampled from the fp32 model' })
      .option('length', { type: 'number', default: REPORT_DEFAULTS.length, describe: 'tokens per sampled sequence (at most seq_len)' })
      .option('greedy-tokens', {
        type: 'number',
        default: REPORT_DEFAULTS.greedyTokens,
        describe: 'tokens generated greedily after each prompt (0: no greedy pass)',
      })
      .option('seed', { type: 'number', default: REPORT_DEFAULTS.seed, describe: 'seed of the sampling RNG' })
      .option('eval', { type: 'string', describe: 'a text file: perplexity of fp32 and each scheme on it' })
      .option('eval-tokens', {
        type: 'number',
        default: REPORT_DEFAULTS.evalTokens,
        describe: 'measure perplexity on at most this many tokens of the --eval text',
      })
      .option('kv-window', {
        type: 'string',
        describe:
          'SINKS+WINDOW: also measure a bounded KV cache (as build --kv-window) against the full context, on the same text and prompts (--length and --greedy-tokens must go past SINKS+WINDOW)',
      })
      .option('out', { type: 'string', describe: 'write the report as one self-contained HTML file' })
      .option('json', {
        type: 'string',
        describe: 'the report as JSON: to FILE, or to stdout without one (doc/report.md describes the fields)',
      })
      .option('verbose', { type: 'boolean', default: false, describe: 'after the summary, every tensor per scheme and every prompt' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but errors (and --json without a file)' })
      .example('$0 report --out report.html', 'stories260K: every scheme against fp32, with charts')
      .example('$0 report -m stories15M.bin --quant q8_0 --eval story.txt --json r.json', 'one scheme, with perplexity, for machines')
      .example(
        '$0 report --sequences 32 --length 128 --greedy-tokens 256',
        'steadier figures: more text, longer greedy runs (takes longer)',
      )
      .example(
        '$0 report --quant q8_0 --kv-window 4+28 --length 128 --greedy-tokens 128',
        'what a cache of 32 positions costs over 128',
      ) as unknown as Argv<ReportArgs>,
  handler: (args: ArgumentsCamelCase<ReportArgs>) => {
    runReport(args);
  },
};
