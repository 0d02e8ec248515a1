/**
 * `llama2-embed inspect <model.bin>`: what a llama2.c checkpoint holds. Reads and checks the whole
 * file (any problem is reported as a UserError), then prints its format, dimensions, tensors and
 * what its weights would take at fp32, int8 and int4; `--json` prints the same as one JSON object.
 */
import type { Argv, CommandModule } from 'yargs';
import type { CheckpointFormat, Config, WeightDType } from '../checkpoint/model.js';
import { headSize, kvDim, parameterCount } from '../checkpoint/model.js';
import { readCheckpoint, readCheckpointHeader } from '../checkpoint/read.js';
import { describeFormat, headerBytes, storedTensors } from '../checkpoint/layout.js';
import { weightBytes } from '../checkpoint/sizes.js';
import type { TensorPrecision } from '../checkpoint/sizes.js';
import { locateModelFile } from '../models/locate.js';
import { formatBytes } from '../util/progress.js';
import { hugeWeightWarning, largestWeight } from '../quant/weight-range.js';
import type { LargestWeight } from '../quant/weight-range.js';
import { formatTable } from '../util/table.js';

/** Group sizes used for the int8 / int4 estimates when the file is not already quantized. */
const DEFAULT_Q8_GROUP_SIZE = 64;
const Q4_GROUP_SIZE = 32;

export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: WeightDType;
  groupSize?: number;
  /** Byte offset in the file. */
  offset: number;
  /** Bytes in the file (Q8_0 scales included). */
  bytes: number;
}

export interface WeightSize {
  precision: TensorPrecision;
  bytes: number;
}

export interface InspectReport {
  file: string;
  fileBytes: number;
  format: CheckpointFormat;
  formatDescription: string;
  config: Config & { headSize: number; kvDim: number };
  sharedClassifier: boolean;
  groupSize?: number;
  parameters: number;
  headerBytes: number;
  /** Bytes that are neither header nor tensor data: our own format's zeros that start every tensor on a 64-byte boundary. */
  paddingBytes: number;
  /** The weight of largest magnitude, as the forward pass sees it. */
  largestWeight: LargestWeight;
  /** Set when a weight is so large that the forward pass will overflow (see quant/weight-range.ts). */
  warning?: string;
  tensors: TensorInfo[];
  weightSizes: { fp32: WeightSize; int8: WeightSize; int4: WeightSize };
}

/** Reads and checks `path` and describes it. */
export function inspectCheckpoint(path: string, options: { checkFinite?: boolean } = {}): InspectReport {
  const header = readCheckpointHeader(path);
  const model = readCheckpoint(path, { checkFinite: options.checkFinite ?? true });
  const { config, format, sharedClassifier, groupSize } = header;
  const tensors = storedTensors(header).map((e): TensorInfo => ({
    name: e.name,
    shape: e.rows === 1 && e.slot.kind !== 'freqCis' ? [e.cols] : [e.rows, e.cols],
    dtype: e.dtype,
    ...(e.groupSize !== undefined ? { groupSize: e.groupSize } : {}),
    offset: e.offset,
    bytes: e.bytes,
  }));
  const warning = hugeWeightWarning(path, model);
  const headerSize = header.tensors ? 64 + 64 * header.tensors.length : headerBytes(format);
  const size = (precision: TensorPrecision): WeightSize => ({ precision, bytes: weightBytes(config, sharedClassifier, precision) });
  return {
    file: path,
    fileBytes: header.fileBytes,
    format,
    formatDescription: describeFormat(format),
    config: { ...config, headSize: headSize(config), kvDim: kvDim(config) },
    sharedClassifier,
    ...(groupSize !== undefined ? { groupSize } : {}),
    parameters: parameterCount(model),
    headerBytes: headerSize,
    largestWeight: largestWeight(model),
    ...(warning ? { warning } : {}),
    paddingBytes: header.fileBytes - headerSize - tensors.reduce((sum, t) => sum + t.bytes, 0),
    tensors,
    weightSizes: {
      fp32: size({ scheme: 'f32' }),
      int8: size({ scheme: 'q8_0', groupSize: groupSize ?? DEFAULT_Q8_GROUP_SIZE }),
      int4: size({ scheme: 'q4_0', groupSize: Q4_GROUP_SIZE }),
    },
  };
}

const count = (n: number): string => n.toLocaleString('en-US');
const shapeText = (shape: number[]): string => `[${shape.join(', ')}]`;
const dtypeText = (t: { dtype: string; groupSize?: number }): string => (t.dtype === 'f32' ? t.dtype : `${t.dtype} gs ${t.groupSize}`);

function precisionText(p: TensorPrecision): string {
  switch (p.scheme) {
    case 'f32':
      return 'fp32';
    case 'q8_0':
      return `int8 (Q8_0, group size ${p.groupSize})`;
    case 'q4_0':
      return `int4 (Q4_0, group size ${p.groupSize})`;
  }
}

/**
 * Tensors of the same kind in every layer share one line (`layers.*.wq`, count 5), in the order
 * their first member appears in the file.
 */
function tensorGroups(tensors: TensorInfo[]): { name: string; shape: number[]; dtype: string; count: number; bytes: number }[] {
  const groups = new Map<string, { name: string; shape: number[]; dtype: string; count: number; bytes: number }>();
  for (const t of tensors) {
    const name = t.name.replace(/^layers\.\d+\./, 'layers.*.');
    const group = groups.get(name);
    if (group) {
      group.count += 1;
      group.bytes += t.bytes;
    } else {
      groups.set(name, { name, shape: t.shape, dtype: dtypeText(t), count: 1, bytes: t.bytes });
    }
  }
  return [...groups.values()];
}

/** The report as text for a terminal. */
export function formatInspectReport(r: InspectReport): string {
  const c = r.config;
  const overview = formatTable(
    [],
    [
      ['file', r.file],
      ['size', `${count(r.fileBytes)} bytes (${formatBytes(r.fileBytes)})`],
      ['format', r.formatDescription],
      ['dim', c.dim],
      ['hidden_dim', c.hiddenDim],
      ['n_layers', c.nLayers],
      ['n_heads', c.nHeads],
      ['n_kv_heads', c.nKvHeads],
      ['head_size', c.headSize],
      ['kv_dim', c.kvDim],
      ['vocab_size', c.vocabSize],
      ['seq_len', c.seqLen],
      ['classifier', r.sharedClassifier ? 'shared with the token embedding' : 'separate (wcls)'],
      ...(r.groupSize !== undefined ? [['group size', r.groupSize]] : []),
      ['parameters', count(r.parameters)],
      ['largest weight', `${r.largestWeight.value.toPrecision(3)} in ${r.largestWeight.tensor}`],
    ],
    { rule: false },
  );

  const groups = tensorGroups(r.tensors);
  const tensorBytes = r.tensors.reduce((sum, t) => sum + t.bytes, 0);
  const tensorTable = formatTable(
    ['tensor', 'shape', 'dtype', 'count', 'bytes'],
    [
      ...groups.map((g) => [g.name, shapeText(g.shape), g.dtype, g.count, count(g.bytes)]),
      ['header', '', '', '', count(r.headerBytes)],
      ...(r.paddingBytes > 0 ? [['alignment padding', '', '', '', count(r.paddingBytes)]] : []),
      ['total', '', '', r.tensors.length, count(tensorBytes + r.headerBytes + r.paddingBytes)],
    ],
    { align: ['left', 'left', 'left', 'right', 'right'] },
  );

  const fp32 = r.weightSizes.fp32.bytes;
  const sizes = formatTable(
    ['weights at', 'bytes', 'size', 'of fp32'],
    Object.values(r.weightSizes).map((s) => [
      precisionText(s.precision),
      count(s.bytes),
      formatBytes(s.bytes),
      `${((100 * s.bytes) / fp32).toFixed(1)}%`,
    ]),
    { align: ['left', 'right', 'right', 'right'] },
  );
  const notes: string[] = [];
  if (r.format === 'v0') notes.push('freq_cis_real and freq_cis_imag are RoPE tables that run.c does not read.');
  if (r.paddingBytes > 0)
    notes.push(
      'alignment padding: zero bytes that start every tensor on a 64-byte boundary (so a microcontroller can read it in place) and its scales on a 4-byte one.',
    );
  const note = notes.length ? `\n${notes.join('\n')}\n` : '';
  return `${overview}\n\n${tensorTable}\n${note}\n${sizes}\n`;
}

interface InspectArgs {
  model: string;
  json: boolean;
  'check-finite': boolean;
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <model>',
  describe: 'Show what a llama2.c checkpoint holds: format, dimensions, tensors, sizes at fp32/int8/int4',
  builder: (yargs: Argv<object>): Argv<InspectArgs> =>
    yargs
      .positional('model', {
        type: 'string',
        demandOption: true,
        describe: 'checkpoint file (v0, v1 or v2 .bin), or the bare name of one in the model search path',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON object instead of tables' })
      .option('check-finite', {
        type: 'boolean',
        default: true,
        describe: 'fail on NaN or infinite weights (--no-check-finite to skip)',
      })
      .example('$0 inspect stories260K.bin', 'describe the model found in the model search path')
      .example('$0 inspect ./out/model.bin --json', 'the same as JSON') as Argv<InspectArgs>,
  handler: (argv) => {
    const path = locateModelFile(argv.model);
    const report = inspectCheckpoint(path, { checkFinite: argv['check-finite'] });
    if (report.warning) process.stderr.write(`warning: ${report.warning}\n`);
    process.stdout.write(argv.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspectReport(report));
  },
};
