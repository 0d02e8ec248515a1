/**
 * The forward pass's side of streaming the weights (PlanOptions.streamWeights, doc/rp2040.md
 * "Streaming the weights"): each matmul whose matrix is not copied to SRAM reads it in blocks of
 * rows from the SRAM ring that firmware/rp2040/weight_stream.c fills by DMA from the XIP stream,
 * and the segments it takes (a block's values, then its scales) make a table, in the order the
 * forward pass takes them, that the stream repeats token after token.
 *
 *   const stream = WeightStream.forPlan(plan);          // undefined unless the plan streams
 *   stream?.streams('wq')                               // whether wq comes from the ring
 *   stream.matmul({ wrapper, out, x, q4, name, rows, cols, groupSize, perLayer })   // the C of one matmul
 *   stream.table(nLayers) / stream.init()               // the segment table and its start, once emitted
 *
 * The blocks are whole rows (Q4_0: whole row pairs, 16 rows or a multiple where they fit), each
 * computed by the matmul wrapper for its number of rows (forward-int.ts), which computes every row
 * as the whole-matrix kernel does (and shares them out between the cores as for any matmul), so
 * the results are the same bits. The classifier in blocks (Plan.classifier) folds each block's
 * logits into its running argmax as the block comes.
 */
import { STREAM_RING_BYTES, type Plan } from '../plan/plan.js';

/** The most bytes of values in one block: small enough that a layer's next blocks stream while one is computed. */
export const STREAM_BLOCK_BYTES = 4096;
/** int16 weight scales (src/quant/fixed-point.ts). */
const SCALE_BYTES = 2;
/**
 * Rows a Q4_0 block's count is a multiple of: 8 row pairs, so that parallel_split (the RP2040's
 * `--threads 2`, which splits a Q4_0 wrapper's row pairs at a multiple of 4) gives each core half.
 */
const Q4_BLOCK_UNIT = 16;

interface StreamedCall {
  name: string;
  rows: number;
  rowBytes: number;
  groups: number;
  perLayer: boolean;
  values: boolean;
  scales: boolean;
  blockRows: number;
}

/** What one matmul is: `out = W · x` for the matrix `name`, and the function that computes a block of its rows. */
export interface StreamedMatmul {
  /** The C function computing `count` rows, (out, x, xm, values, scales): forward-int.ts's wrapper for that shape. */
  wrapper: (count: number) => string;
  /** Where the outputs of the block from row `first` (a C expression) go. */
  out: (first: string) => string;
  /** The quantized activation's argument (s.xq for Q8_0, the widened s.xw for Q4_0). */
  x: string;
  /** Q4_0 in row-pair words (a row's values take cols / 2 bytes), or Q8_0 (cols bytes). */
  q4: boolean;
  name: string;
  rows: number;
  cols: number;
  groupSize: number;
  perLayer: boolean;
  /** The most rows a block may have (the classifier's: its logits block). */
  maxBlockRows?: number;
  /** C run after each block of `count` rows from row `first` (the classifier's running argmax). */
  after?: (first: string, count: number) => string;
}

/** Rows per block of a matrix whose rows take `rowBytes` bytes of values (see STREAM_BLOCK_BYTES and Q4_BLOCK_UNIT). */
export function streamBlockRows(rows: number, rowBytes: number, q4: boolean, maxRows = rows): number {
  const most = Math.min(rows, maxRows);
  if (!q4) {
    // an even number of rows: a block's scales are then whole words, as the stream moves them
    return Math.max(2, Math.floor(Math.min(most, STREAM_BLOCK_BYTES / rowBytes) / 2) * 2);
  }
  // the nearest multiple of 16 rows to STREAM_BLOCK_BYTES, or pairs when 16 rows would not fit
  const unit = Q4_BLOCK_UNIT * rowBytes <= 2 * STREAM_BLOCK_BYTES && most >= Q4_BLOCK_UNIT ? Q4_BLOCK_UNIT : 2;
  const units = Math.max(1, Math.round(STREAM_BLOCK_BYTES / rowBytes / unit));
  return Math.min(units * unit, Math.floor(most / unit) * unit);
}

/**
 * Why rows of `cols` values (Q4_0 when `q4`, else Q8_0, in groups of `groupSize`) cannot stream,
 * or undefined if they can: a block of the fewest rows (a pair), its values and scales, must fit
 * in half the ring, since a segment that does not fit after the head wraps to the ring's start.
 */
export function streamRowsProblem(cols: number, q4: boolean, groupSize: number): string | undefined {
  const pairBytes = (n: number) => 2 * ((q4 ? n / 2 : n) + Math.ceil(n / groupSize) * SCALE_BYTES);
  if (pairBytes(cols) <= STREAM_RING_BYTES / 2) return undefined;
  let most = cols;
  while (pairBytes(most) > STREAM_RING_BYTES / 2) most -= q4 ? 16 : 1; // Q4_0 columns come in 16s
  return `two rows of ${cols} columns take ${pairBytes(cols)} bytes with their scales, more than half of the ${STREAM_RING_BYTES / 1024} KiB ring they stream through (rows of at most ${most} columns fit)`;
}

/** The matmuls a forward pass streams, recorded as their C is emitted (see above). */
export class WeightStream {
  private readonly calls: StreamedCall[] = [];

  private constructor(private readonly copied: Set<string>) {}

  /** The stream of `plan`, or undefined if it does not stream its weights (no `weight_ring`). */
  static forPlan(plan: Plan): WeightStream | undefined {
    if (!plan.buffers.some((b) => b.name === 'weight_ring')) return undefined;
    return new WeightStream(new Set(plan.buffers.filter((b) => b.copyOf).map((b) => b.copyOf!)));
  }

  /** Whether matrix `name` (its values or its scales) comes through the ring rather than from a copy in SRAM. */
  streams(name: string): boolean {
    return !this.copied.has(name) || !this.copied.has(`${name}_scales`);
  }

  /**
   * The C of one streamed matmul, inside forward() (`l` the layer when `perLayer`): its blocks
   * of rows, each computed from the ring (or from the SRAM copy, for the part that has one) by
   * the wrapper for the block's rows, which shares them out between the threads as any matmul.
   */
  matmul(m: StreamedMatmul): string {
    const groups = Math.ceil(m.cols / m.groupSize);
    const rowBytes = m.q4 ? m.cols / 2 : m.cols;
    const blockRows = streamBlockRows(m.rows, rowBytes, m.q4, m.maxBlockRows);
    const call: StreamedCall = {
      name: m.name,
      rows: m.rows,
      rowBytes,
      groups,
      perLayer: m.perLayer,
      values: !this.copied.has(m.name),
      scales: !this.copied.has(`${m.name}_scales`),
      blockRows,
    };
    this.calls.push(call);
    const [valueType, rowElements] = m.q4 ? ['int32_t', m.cols / 8] : ['int8_t', m.cols];
    const layer = m.perLayer ? `l * ${m.rows} + ` : '';
    const block = (first: string, count: number, indent: string) => {
      const values = call.values ? 'weight_stream_take()' : `forward_weights.${m.name} + (${layer}${first}) * ${rowElements}`;
      const scales = call.scales ? 'weight_stream_take()' : `forward_weights.${m.name}_scales + (${layer}${first}) * ${groups}`;
      return [
        `const ${valueType}* wv = ${values};`,
        `const int16_t* ws = ${scales};`,
        `${m.wrapper(count)}(${m.out(first)}, ${m.x}, forward_state.xm, wv, ws);`,
        'weight_stream_release();',
        ...(m.after ? [m.after(first, count)] : []),
      ].join(`\n${indent}`);
    };
    const full = m.rows - (m.rows % blockRows);
    const loop = `for (int r = 0; r < ${full}; r += ${blockRows}) { /* ${m.name}: blocks of ${blockRows} rows from the stream */
            ${block('r', blockRows, '            ')}
        }`;
    return full < m.rows ? `${loop}\n        {\n            ${block(String(full), m.rows - full, '            ')}\n        }` : loop;
  }

  /**
   * C that takes and gives back, unread, the segments of the streamed matmul by `name` (recorded
   * by matmul() before): for a position whose classifier is not computed, so that the next take
   * is the segment the table has next.
   */
  skip(name: string): string {
    const call = this.calls.find((c) => c.name === name);
    if (!call) throw new Error(`internal: ${name} is not streamed`);
    const takes = Math.ceil(call.rows / call.blockRows) * (Number(call.values) + Number(call.scales));
    return `for (int i = 0; i < ${takes}; i++) { /* ${name}: ${takes} segments */
            (void)weight_stream_take();
            weight_stream_release();
        }`;
  }

  /** The segment table, one token's takes in order: the layers' matmuls layer by layer, then the others. */
  table(nLayers: number): string {
    const rows: string[] = [];
    const segments = (c: StreamedCall, l: number) => {
      const first = c.perLayer ? l * c.rows : 0;
      for (let r = 0; r < c.rows; r += c.blockRows) {
        const n = Math.min(c.blockRows, c.rows - r);
        if (c.values)
          rows.push(
            `    {model_weights + OFFSET_${c.name.toUpperCase()} + ${(first + r) * c.rowBytes}, ${n * c.rowBytes}}, /* ${c.name}${c.perLayer ? `[${l}]` : ''} rows ${r}.. */`,
          );
        if (c.scales)
          rows.push(
            `    {model_weights + OFFSET_${c.name.toUpperCase()}_SCALES + ${(first + r) * c.groups * SCALE_BYTES}, ${n * c.groups * SCALE_BYTES}},`,
          );
      }
    };
    for (let l = 0; l < nLayers; l++) for (const c of this.calls.filter((x) => x.perLayer)) segments(c, l);
    for (const c of this.calls.filter((x) => !x.perLayer)) segments(c, 0);
    return `/* The weights forward() takes from the stream, in its order, one token's worth (weight_stream.h). */
static const WeightSegment weight_segments[] = {
${rows.join('\n')}
};
`;
  }

  /** forward_init's start of the stream. */
  init(): string {
    return '    weight_stream_init(weight_segments, sizeof weight_segments / sizeof weight_segments[0], forward_state.weight_ring, sizeof forward_state.weight_ring);\n';
  }
}
