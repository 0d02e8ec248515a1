/**
 * The forward pass's side of streaming the weights (src/codegen/weight-stream.ts): which matrices
 * stream, their blocks of rows (even, at most STREAM_BLOCK_BYTES of values), and the segment table
 * in the order forward() takes them: every layer's matmuls, then the classifier; every segment
 * whole words at word-aligned flash offsets, as the XIP stream moves them.
 */
import { expect } from 'chai';
import { STREAM_BLOCK_BYTES, WeightStream } from '../../src/codegen/weight-stream.js';
import { makePlan } from '../../src/plan/plan.js';
import { loadTarget } from '../../src/plan/target.js';

const stories260K = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 };
const integer = { weights: 'q8_0' as const, groupSize: 64, sharedClassifier: true, arithmetic: 'integer' as const };

describe('codegen/weight-stream: the streamed matmuls and their segment table', () => {
  it('streams nothing unless the plan has the ring', () => {
    expect(WeightStream.forPlan(makePlan(loadTarget('rp2040'), stories260K, integer))).to.equal(undefined);
  });

  it('cuts each matrix into blocks of whole rows and lists them layer by layer, values then scales, word-aligned', () => {
    const plan = makePlan(loadTarget('rp2040'), stories260K, { ...integer, streamWeights: true });
    const stream = WeightStream.forPlan(plan)!;
    const copied = new Set(plan.buffers.filter((b) => b.copyOf).map((b) => b.copyOf));
    expect(stream.streams('wq')).to.equal(!copied.has('wq') || !copied.has('wq_scales'));
    const w2 = stream.matmul({ kernel: 'k', out: 'forward_state.xb', name: 'w2', rows: 64, cols: 172, groupSize: 64, perLayer: true });
    const wq = stream.matmul({ kernel: 'k', out: 'forward_state.q', name: 'wq', rows: 64, cols: 64, groupSize: 64, perLayer: true });
    // w2's rows are 172 bytes: 4096 / 172 = 23.8, so blocks of 22 rows (even: their 3 scales each are whole words)
    expect(w2).to.match(/for \(int r = 0; r < 64; r \+= 22\)/);
    expect(wq).to.match(/for \(int r = 0; r < 64; r \+= 64\)/);
    expect(w2).to.match(
      /k\(forward_state\.xb \+ r, forward_state\.xq, forward_state\.xm, wv, ws, 64 - r < 22 \? 64 - r : 22\);\s+weight_stream_release\(\);/,
    );
    const table = stream.table(2);
    const rows = [...table.matchAll(/\{model_weights \+ OFFSET_(\w+) \+ (\d+), (\d+)\}/g)].map((m) => ({
      buffer: m[1],
      offset: Number(m[2]),
      bytes: Number(m[3]),
    }));
    const w2Values = rows.filter((r) => r.buffer === 'W2').map((r) => [r.offset, r.bytes]);
    // layer 0: rows 0, 22, 44 (22, 22, 20 rows); layer 1 starts at row 64
    expect([copied.has('w2'), copied.has('wq')], 'this plan streams w2 and wq').to.deep.equal([false, false]);
    expect(w2Values).to.deep.equal([
      [0, 22 * 172],
      [22 * 172, 22 * 172],
      [44 * 172, 20 * 172],
      [64 * 172, 22 * 172],
      [86 * 172, 22 * 172],
      [108 * 172, 20 * 172],
    ]);
    // the order: layer 0's w2 blocks, then layer 0's wq, then layer 1's
    const order = rows.filter((r) => r.buffer === 'W2' || r.buffer === 'WQ').map((r) => r.buffer);
    expect(order).to.deep.equal(['W2', 'W2', 'W2', 'WQ', 'W2', 'W2', 'W2', 'WQ']);
    for (const r of rows) {
      expect(r.offset % 4, `${r.buffer} at ${r.offset}`).to.equal(0);
      expect(r.bytes % 4, `${r.buffer} of ${r.bytes}`).to.equal(0);
      if (!r.buffer.endsWith('_SCALES')) expect(r.bytes).to.be.at.most(STREAM_BLOCK_BYTES);
    }
    expect(stream.init()).to.match(
      /weight_stream_init\(weight_segments, .*, forward_state\.weight_ring, sizeof forward_state\.weight_ring\);/,
    );
  });
});
