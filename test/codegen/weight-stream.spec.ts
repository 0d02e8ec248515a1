/**
 * The forward pass's side of streaming the weights (src/codegen/weight-stream.ts): which matrices
 * stream, their blocks of rows (even, at most STREAM_BLOCK_BYTES of values), and the segment table
 * in the order forward() takes them: every layer's matmuls, then the classifier; every segment
 * whole words at word-aligned flash offsets, as the XIP stream moves them.
 */
import { expect } from 'chai';
import { STREAM_BLOCK_BYTES, streamBlockRows, streamRowsProblem, WeightStream } from '../../src/codegen/weight-stream.js';
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
    const q8 = { wrapper: (rows: number) => `mm${rows}`, x: 'forward_state.xq', q4: false, groupSize: 64, perLayer: true };
    const w2 = stream.matmul({ ...q8, out: (r) => `forward_state.xb + ${r}`, name: 'w2', rows: 64, cols: 172 });
    const wq = stream.matmul({ ...q8, out: (r) => `forward_state.q + ${r}`, name: 'wq', rows: 64, cols: 64 });
    // w2's rows are 172 bytes: 4096 / 172 = 23.8, so blocks of 22 rows (even: their 3 scales each are whole words),
    // two of them, then the last 20 rows, each by the wrapper for its rows
    expect(w2).to.match(/for \(int r = 0; r < 44; r \+= 22\)/);
    expect(w2).to.match(/mm22\(forward_state\.xb \+ r, forward_state\.xq, forward_state\.xm, wv, ws\);\s+weight_stream_release\(\);/);
    expect(w2).to.match(/mm20\(forward_state\.xb \+ 44, forward_state\.xq, forward_state\.xm, wv, ws\);\s+weight_stream_release\(\);/);
    expect(wq).to.match(/for \(int r = 0; r < 64; r \+= 64\)/);
    expect(wq).to.not.match(/mm\d+\(forward_state\.q \+ 64/);
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

  it("Q4_0 (row-pair words, half a byte a value): blocks of 16 rows or a multiple, so that two cores each take half of a block's row pairs", () => {
    // stories15M: rows of 288 values take 144 bytes: 4096 / 144 = 28.4 rows, so 32; rows of 768, 384 bytes: 16
    expect(streamBlockRows(288, 144, true)).to.equal(32);
    expect(streamBlockRows(32000, 144, true, 64)).to.equal(32);
    expect(streamBlockRows(768, 144, true)).to.equal(32);
    expect(streamBlockRows(288, 384, true)).to.equal(16);
    // fewer rows than 16, or rows too long for 16 of them: pairs
    expect(streamBlockRows(6, 144, true)).to.equal(6);
    expect(streamBlockRows(64, 2048, true)).to.equal(2);
    // Q8_0 as before: even, at most STREAM_BLOCK_BYTES
    expect(streamBlockRows(64, 172, false)).to.equal(22);
  });

  it("a Q4_0 classifier in blocks: each block's logits into forward_state.logits_block, folded into the running argmax, the segments' offsets in the row-pair words' bytes", () => {
    const shape = { dim: 288, hiddenDim: 768, nLayers: 1, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 8 };
    const plan = makePlan(loadTarget('rp2040'), shape, { ...integer, weights: 'q4_0', groupSize: 32, streamWeights: true });
    const stream = WeightStream.forPlan(plan)!;
    const c = stream.matmul({
      wrapper: (rows) => `mm${rows}`,
      out: () => 'forward_state.logits_block',
      x: 'forward_state.xw',
      q4: true,
      name: 'token_embedding_table',
      rows: 32000,
      cols: 288,
      groupSize: 32,
      perLayer: false,
      maxBlockRows: 64,
      after: (first, count) => `fold(forward_state.best, forward_state.logits_block, ${first}, ${count});`,
    });
    expect(c).to.match(/for \(int r = 0; r < 32000; r \+= 32\)/);
    expect(c).to.match(/const int32_t\* wv = weight_stream_take\(\);/);
    expect(c).to.match(
      /mm32\(forward_state\.logits_block, forward_state\.xw, forward_state\.xm, wv, ws\);\s+weight_stream_release\(\);\s+fold\(forward_state\.best, forward_state\.logits_block, r, 32\);/,
    );
    const rows = [...stream.table(1).matchAll(/\{model_weights \+ OFFSET_(\w+) \+ (\d+), (\d+)\}/g)].map((m) => [
      m[1],
      Number(m[2]),
      Number(m[3]),
    ]);
    expect(rows.length).to.equal(2000);
    expect(rows.slice(0, 4)).to.deep.equal([
      ['TOKEN_EMBEDDING_TABLE', 0, 32 * 144],
      ['TOKEN_EMBEDDING_TABLE_SCALES', 0, 32 * 9 * 2],
      ['TOKEN_EMBEDDING_TABLE', 32 * 144, 32 * 144],
      ['TOKEN_EMBEDDING_TABLE_SCALES', 32 * 9 * 2, 32 * 9 * 2],
    ]);
  });

  it('refuses rows whose smallest block (a pair) would take more than half the ring', () => {
    expect(streamRowsProblem(768, true, 32)).to.equal(undefined);
    expect(streamRowsProblem(3968, false, 64)).to.equal(undefined);
    expect(streamRowsProblem(8192, false, 64)).to.match(
      /two rows of 8192 columns take 16896 bytes .* 16 KiB ring .*rows of at most 3970 columns fit/,
    );
    expect(streamRowsProblem(16384, true, 32)).to.match(/two rows of 16384 columns take 18432 bytes/);
  });
});
