/**
 * `llama2-embed report`: what quantization costs, in numbers and pictures. Quantizes the model
 * with each scheme, compares every matrix with its fp32 values, runs the reference engine on
 * text sampled from the fp32 model (KL divergence, top-1 agreement), on an optional text
 * (perplexity) and on a few prompts (greedy divergence), sizes each scheme against every known
 * target, and prints a table; `--json` and `--out` write the same as JSON and as one HTML page.
 * See doc/report.md.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadForGeneration } from '../engine/load.js';
import { knownTargets, loadTarget } from '../plan/target.js';
import { schemeOf } from '../quant/schemes.js';
import { COMPARED_SCHEMES, REPORT_DEFAULTS, compareSchemes, type ComparedScheme, type QuantReport } from '../report/compare.js';
import { reportToHtml } from '../report/html.js';
import { reportToJson } from '../report/json.js';
import { formatReport } from '../report/terminal.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError, describeError } from '../util/errors.js';
import { Progress } from '../util/progress.js';

interface ReportArgs {
  model?: string;
  tokenizer?: string;
  quant: string;
  groupSize?: number;
  arithmetic: 'float' | 'integer';
  sequences: number;
  length: number;
  seed: number;
  eval?: string;
  out?: string;
  json?: string;
  quiet: boolean;
}

/** Parses `--quant q8_0,q4_0,mixed`: known schemes, each once, in the order given. */
export function parseSchemes(value: string): ComparedScheme[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UserError(`--quant needs at least one scheme: ${COMPARED_SCHEMES.join(', ')}.`, 2);
  const out: ComparedScheme[] = [];
  for (const name of names) {
    if (name === 'f32') throw new UserError('--quant f32: fp32 is the reference every scheme is compared with; list only q8_0, q4_0, mixed.', 2);
    if (!(COMPARED_SCHEMES as readonly string[]).includes(name)) {
      throw new UserError(`--quant: unknown scheme "${name}". Known schemes: ${COMPARED_SCHEMES.join(', ')} (comma-separated).`, 2);
    }
    if (!out.includes(name as ComparedScheme)) out.push(name as ComparedScheme);
  }
  return out;
}

function positiveInteger(flag: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UserError(`--${flag} must be a whole number from 1 to ${max.toLocaleString('en-US')}, got ${value}.`, 2);
  }
  return value;
}

/** The directory an output file goes to must exist (checked before the long run, not after). */
function checkWritable(flag: string, path: string | undefined): void {
  if (path === undefined) return;
  if (path.trim() === '') throw new UserError(`--${flag} needs a file name.`, 2);
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`--${flag} ${path}: the directory ${dir} does not exist; create it or write elsewhere.`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new UserError(`--${flag} ${path} is a directory; give a file name.`);
}

function readEvalText(path: string): { path: string; text: string } {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new UserError(`--eval ${path} is a directory; give a text file.`);
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

/** Runs the whole report as the command does; returns it (for tests) after printing and writing it. */
export function runReport(args: ReportArgs): QuantReport {
  const schemes = parseSchemes(args.quant);
  const sequences = positiveInteger('sequences', args.sequences, 100_000);
  const length = positiveInteger('length', args.length);
  const seed = positiveInteger('seed', args.seed);
  if (args.groupSize !== undefined) positiveInteger('group-size', args.groupSize, 1 << 20);
  checkWritable('out', args.out);
  checkWritable('json', args.json);
  const evalText = args.eval === undefined ? undefined : readEvalText(args.eval);

  const loaded = loadForGeneration({ model: args.model, tokenizer: args.tokenizer, weights: 'f32' });
  const seqLen = loaded.model.config.seqLen;
  if (length > seqLen) throw new UserError(`--length ${length} is longer than the model's context (seq_len ${seqLen}); use at most ${seqLen}.`, 2);
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
    schemes,
    groupSize: args.groupSize,
    sequences,
    length,
    seed,
    evalText,
    targets,
    integer: args.arithmetic === 'integer',
    progress: (label, total) => new Progress(label, total, { quiet: args.quiet, unit: 'items' }),
  });

  process.stdout.write(formatReport(report));
  if (args.json !== undefined) {
    writeFileAtomic(args.json, [Buffer.from(reportToJson(report), 'utf8')]);
    log(`wrote ${args.json}`);
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
      .option('model', { alias: 'm', type: 'string', describe: 'checkpoint (.bin), a path or a name found by the model lookup (default: stories260K.bin)' })
      .option('tokenizer', { alias: 'z', type: 'string', describe: 'tokenizer.bin (default: the one that goes with the model)' })
      .option('quant', { type: 'string', default: COMPARED_SCHEMES.join(','), describe: 'schemes to compare with fp32, comma-separated' })
      .option('arithmetic', {
        choices: ['float', 'integer'] as const,
        default: 'float' as const,
        describe: 'run the q8_0 candidate with the integer kernels (what an RP2040 build computes) to measure their cost too',
      })
      .option('group-size', { type: 'number', describe: 'values per scale, for every scheme (default: chosen for each scheme)' })
      .option('sequences', { type: 'number', default: REPORT_DEFAULTS.sequences, describe: 'sequences sampled from the fp32 model' })
      .option('length', { type: 'number', default: REPORT_DEFAULTS.length, describe: 'tokens per sampled sequence (at most seq_len)' })
      .option('seed', { type: 'number', default: REPORT_DEFAULTS.seed, describe: 'seed of the sampling RNG' })
      .option('eval', { type: 'string', describe: 'a text file: perplexity of fp32 and each scheme on it' })
      .option('out', { type: 'string', describe: 'write the report as one self-contained HTML file' })
      .option('json', { type: 'string', describe: 'write the report as JSON (doc/report.md describes the fields)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress on stderr' })
      .example('$0 report --out report.html', 'stories260K: every scheme against fp32, with charts')
      .example('$0 report -m stories15M.bin --quant q8_0 --eval story.txt --json r.json', 'one scheme, with perplexity, for machines') as unknown as Argv<ReportArgs>,
  handler: (args: ArgumentsCamelCase<ReportArgs>) => {
    runReport(args);
  },
};
