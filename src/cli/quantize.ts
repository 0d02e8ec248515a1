/**
 * `llama2-embed quantize IN.bin -o OUT.bin`: quantizes a checkpoint's weights to Q8_0, Q4_0 or the
 * mixed scheme (src/quant/schemes.ts) and writes it as llama2.c's version 2 when that format can
 * hold it correctly (runq.c then runs it), else as llama2-embed's own format (src/checkpoint/own-format.ts).
 */
import { statSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { CheckpointFormat, Config, Model } from '../checkpoint/model.js';
import { parameterCount } from '../checkpoint/model.js';
import { describeFormat } from '../checkpoint/layout.js';
import { readCheckpoint } from '../checkpoint/read.js';
import { writeCheckpoint } from '../checkpoint/write.js';
import { locateModelFile } from '../models/locate.js';
import { checkGroupSizeOption, chooseGroupSize, rowLengths, type GroupSizeChoice } from '../quant/group-size.js';
import {
  QUANTIZED_SCHEMES,
  describeScheme,
  matrixCount,
  quantizeModel,
  schemeOf,
  type QuantScheme,
  type QuantizedScheme,
} from '../quant/schemes.js';
import { UserError } from '../util/errors.js';
import { checkOutputFile } from '../util/paths.js';
import { Progress, formatBytes } from '../util/progress.js';
import { formatTable } from '../util/table.js';

export const OUTPUT_FORMATS = ['auto', 'v2', 'own'] as const;
export type OutputFormatChoice = (typeof OUTPUT_FORMATS)[number];

/** Models from this many parameters up get a progress bar (smaller ones take well under a second). */
const PROGRESS_FROM_PARAMETERS = 1_000_000;

export interface QuantizeRequest {
  /** A path, or a bare name found by the model lookup. */
  input: string;
  output: string;
  quant: QuantizedScheme;
  groupSize?: number;
  format: OutputFormatChoice;
  /** No progress bar. */
  quiet?: boolean;
}

export interface QuantizeSummary {
  input: string;
  inputFormat: CheckpointFormat;
  /** The input's scheme, when its weights follow one. */
  inputScheme?: QuantScheme;
  inputBytes: number;
  output: string;
  outputBytes: number;
  scheme: QuantizedScheme;
  groupSize: number;
  groupSizeReason: string;
  format: 'v2' | 'own';
  formatReason: string;
}

/** The group sizes up to 256 that divide every row length: those a v2 file can hold. */
export function v2GroupSizes(config: Config): number[] {
  const lengths = rowLengths(config);
  const sizes: number[] = [];
  for (let g = 1; g <= Math.min(256, ...lengths); g++) if (lengths.every((n) => n % g === 0)) sizes.push(g);
  return sizes;
}

function rowLengthText(config: Config): string {
  return `dim ${config.dim} and hidden_dim ${config.hiddenDim}`;
}

/** Why a v2 file cannot hold these weights correctly (a short and a full explanation), or undefined when it can. */
export function v2Problem(config: Config, scheme: QuantizedScheme, groupSize: number): { brief: string; full: string } | undefined {
  if (scheme !== 'q8_0') {
    const what = scheme === 'mixed' ? 'the mixed scheme has Q4_0 layer matrices' : 'these weights are Q4_0';
    const brief = `llama2.c's version 2 holds Q8_0 weights only, and ${what}`;
    return { brief, full: `${brief} (runq.c has no 4-bit matmul)` };
  }
  const misfit = rowLengths(config).find((n) => n % groupSize !== 0);
  if (misfit === undefined) return undefined;
  const name = misfit === config.dim ? 'dim' : 'hidden_dim';
  const works = v2GroupSizes(config).join(', ');
  return {
    brief: `group size ${groupSize} does not divide ${name} ${misfit}, so in a v2 file groups would straddle rows and runq.c would compute garbage (v2 works with group sizes ${works})`,
    full:
      `group size ${groupSize} does not divide every row length (${rowLengthText(config)}). A v2 file stores each tensor as one ` +
      `flat run of groups, so groups would straddle rows, and runq.c's matmul, which walks whole groups within a row, would skip ` +
      `the last ${misfit % groupSize} of the ${misfit} values of every row of length ${misfit} and scale the rest with the scales ` +
      `of the wrong groups: garbage output (llama2.c's export.py makes such files; their stories degenerate into "there there ` +
      `there"). Group sizes that work for v2: ${works}`,
  };
}

/** The format to write, and why. */
export function chooseOutputFormat(
  config: Config,
  scheme: QuantizedScheme,
  groupSize: number,
  requested: OutputFormatChoice,
): { format: 'v2' | 'own'; reason: string } {
  const problem = v2Problem(config, scheme, groupSize);
  if (requested === 'v2') {
    if (problem)
      throw new UserError(`cannot write --format v2: ${problem.full}. Use --format own (or auto), or another --group-size / --quant.`, 2);
    return { format: 'v2', reason: "asked for with --format v2; llama2.c's runq.c can read it" };
  }
  if (requested === 'own') return { format: 'own', reason: 'asked for with --format own' };
  if (problem) return { format: 'own', reason: `not llama2.c's version 2: ${problem.brief}` };
  return { format: 'v2', reason: "Q8_0 everywhere with a group size that divides every row length, so llama2.c's runq.c can read it" };
}

function groupSizeReason(config: Config, groupSize: number, given: boolean, chosenReason: string | undefined): string {
  if (!given) return chosenReason ?? '';
  const ragged = rowLengths(config).filter((n) => n % groupSize !== 0);
  const tail = ragged.length ? `; rows of length ${ragged.join(', ')} end with a shorter group` : '';
  return `given with --group-size${tail}`;
}

/** Reads `input`, quantizes it and writes `output` (atomically); returns what it did. */
export function quantizeCheckpoint(req: QuantizeRequest): QuantizeSummary {
  checkGroupSizeOption(req.groupSize);
  const inputPath = locateModelFile(req.input);
  checkOutputFile(req.output, { flag: '-o', inputs: [inputPath] });
  const model: Model = readCheckpoint(inputPath);
  const inputBytes = statSync(inputPath).size;

  // the group size and the format are settled first, so that a refusal comes before any work
  const choice = req.groupSize === undefined ? chooseGroupSize(model.config, req.quant) : undefined;
  const groupSize = req.groupSize ?? (choice as GroupSizeChoice).groupSize;
  const chosen = chooseOutputFormat(model.config, req.quant, groupSize, req.format);

  const total = matrixCount(model);
  const quiet = req.quiet || parameterCount(model) < PROGRESS_FROM_PARAMETERS;
  const progress = new Progress('quantizing', total, { quiet, unit: 'items' });
  const quantized = quantizeModel(model, req.quant, { groupSize, onProgress: (done) => progress.update(done) });
  progress.done(`${total} matrices`);
  const outputBytes = writeCheckpoint(req.output, { ...quantized.model, format: chosen.format }, chosen.format);
  return {
    input: inputPath,
    inputFormat: model.format,
    inputScheme: schemeOf(model)?.scheme,
    inputBytes,
    output: req.output,
    outputBytes,
    scheme: req.quant,
    groupSize,
    groupSizeReason: groupSizeReason(model.config, groupSize, req.groupSize !== undefined, choice?.reason),
    format: chosen.format,
    formatReason: chosen.reason,
  };
}

/** What `quantize` prints when it is done. */
export function formatQuantizeSummary(s: QuantizeSummary): string {
  const ratio = s.inputBytes > 0 ? ` (${((100 * s.outputBytes) / s.inputBytes).toFixed(1)}% of the input)` : '';
  const requantized =
    s.inputScheme !== undefined && s.inputScheme !== 'f32'
      ? [['note', `the input was already quantized (${describeScheme(s.inputScheme)}): its dequantized weights were quantized again`]]
      : [];
  const rows = [
    ['input', `${s.input}: ${describeFormat(s.inputFormat)}, ${s.inputBytes.toLocaleString('en-US')} bytes (${formatBytes(s.inputBytes)})`],
    ['output', `${s.output}: ${s.outputBytes.toLocaleString('en-US')} bytes (${formatBytes(s.outputBytes)})${ratio}`],
    ['weights', describeScheme(s.scheme)],
    ['group size', `${s.groupSize}: ${s.groupSizeReason}`],
    ['format', `${describeFormat(s.format)}: ${s.formatReason}`],
    ...requantized,
  ];
  return `${formatTable([], rows, { rule: false })}\n`;
}

interface QuantizeArgs {
  input: string;
  output: string;
  quant: QuantizedScheme;
  groupSize?: number;
  format: OutputFormatChoice;
  quiet: boolean;
}

export const quantizeCommand: CommandModule<object, QuantizeArgs> = {
  command: 'quantize <input>',
  describe: 'quantize a checkpoint to int8 / int4 weights and write it (llama2.c v2 when it can hold it, else our own format)',
  builder: (y: Argv<object>): Argv<QuantizeArgs> =>
    y
      .positional('input', {
        type: 'string',
        demandOption: true,
        describe: 'checkpoint to quantize (a path, or a name found by the model lookup)',
      })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'file to write' })
      .option('quant', {
        choices: QUANTIZED_SCHEMES,
        default: 'q8_0' as QuantizedScheme,
        describe: 'q8_0: int8 everywhere; q4_0: int4 everywhere; mixed: int8 embedding and classifier, int4 layers',
      })
      .option('group-size', { type: 'number', describe: 'values per scale (default: chosen for the model and the precision)' })
      .option('format', {
        choices: OUTPUT_FORMATS,
        default: 'auto' as OutputFormatChoice,
        describe: "auto: llama2.c's v2 when it can hold the result correctly, else own; v2; own (llama2-embed's format)",
      })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress bar' })
      .example('$0 quantize stories260K.bin -o stories260K-q8.bin --group-size 4', 'Q8_0 as llama2.c v2, readable by runq.c')
      .example(
        '$0 quantize stories15M.bin -o stories15M-mixed.bin --quant mixed',
        'int8 embedding, int4 layers, own format',
      ) as unknown as Argv<QuantizeArgs>,
  handler: (args: ArgumentsCamelCase<QuantizeArgs>) => {
    const summary = quantizeCheckpoint({
      input: args.input,
      output: args.output,
      quant: args.quant,
      groupSize: args.groupSize,
      format: args.format,
      quiet: args.quiet,
    });
    process.stdout.write(formatQuantizeSummary(summary));
  },
};
