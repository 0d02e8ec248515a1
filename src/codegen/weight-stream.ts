/**
 * The forward pass's side of streaming the weights (PlanOptions.streamWeights, doc/rp2040.md
 * "Streaming the weights"): each matmul whose matrix is not copied to SRAM reads it in blocks of
 * rows from the SRAM ring that firmware/rp2040/weight_stream.c fills by DMA from the XIP stream,
 * and the segments it takes (a block's values, then its scales) make a table, in the order the
 * forward pass takes them, that the stream repeats token after token.
 *
 *   const stream = WeightStream.forPlan(plan);          // undefined unless the plan streams
 *   stream?.streams('wq')                               // whether wq comes from the ring
 *   stream.matmul({ kernel, out, name, rows, cols, groupSize, perLayer })   // the C of one matmul
 *   stream.table(nLayers) / stream.init()               // the segment table and its start, once emitted
 *
 * The blocks are whole rows, and the row-range kernel computes each row as the whole-matrix one
 * does, so the results are the same bits.
 */
import type { Plan } from '../plan/plan.js';

/** The most bytes of values in one block: small enough that a layer's next blocks stream while one is computed. */
export const STREAM_BLOCK_BYTES = 4096;
/** int16 weight scales (src/quant/fixed-point.ts). */
const SCALE_BYTES = 2;

interface StreamedCall {
  name: string;
  rows: number;
  cols: number;
  groups: number;
  perLayer: boolean;
  values: boolean;
  scales: boolean;
  blockRows: number;
}

/** What one matmul is: `out = W · x` for the matrix `name`, and the row-range kernel that computes it. */
export interface StreamedMatmul {
  kernel: string;
  out: string;
  name: string;
  rows: number;
  cols: number;
  groupSize: number;
  perLayer: boolean;
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
   * of rows, each computed from the ring (or from the SRAM copy, for the part that has one).
   */
  matmul(m: StreamedMatmul): string {
    const groups = Math.ceil(m.cols / m.groupSize);
    // an even number of rows: a block's scales are then whole words, as the stream moves them
    const blockRows = Math.max(2, Math.floor(Math.min(m.rows, STREAM_BLOCK_BYTES / m.cols) / 2) * 2);
    const call: StreamedCall = {
      name: m.name,
      rows: m.rows,
      cols: m.cols,
      groups,
      perLayer: m.perLayer,
      values: !this.copied.has(m.name),
      scales: !this.copied.has(`${m.name}_scales`),
      blockRows,
    };
    this.calls.push(call);
    const layer = m.perLayer ? `l * ${m.rows} + ` : '';
    const values = call.values ? 'weight_stream_take()' : `forward_weights.${m.name} + (${layer}r) * ${m.cols}`;
    const scales = call.scales ? 'weight_stream_take()' : `forward_weights.${m.name}_scales + (${layer}r) * ${groups}`;
    return `for (int r = 0; r < ${m.rows}; r += ${blockRows}) { /* ${m.name}: blocks of ${blockRows} rows from the stream */
            const int8_t* wv = ${values};
            const int16_t* ws = ${scales};
            ${m.kernel}(${m.out} + r, forward_state.xq, forward_state.xm, wv, ws, ${m.rows} - r < ${blockRows} ? ${m.rows} - r : ${blockRows});
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
            `    {model_weights + OFFSET_${c.name.toUpperCase()} + ${(first + r) * c.cols}, ${n * c.cols}}, /* ${c.name}${c.perLayer ? `[${l}]` : ''} rows ${r}.. */`,
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
