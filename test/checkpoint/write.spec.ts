import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointFormat, Model } from '../../src/checkpoint/model.js';
import { checkpointBytes, readCheckpoint } from '../../src/checkpoint/read.js';
import { precomputeFreqCis } from '../../src/checkpoint/freq-cis.js';
import { serializeCheckpoint, writeCheckpoint } from '../../src/checkpoint/write.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { expectSameWeights, quantizeModel, quantizeQ8, withSeparateClassifier } from './synthetic.js';
import { userError } from '../helpers/errors.js';
import { needs } from '../helpers/needs.js';

/** Bits of a float32, to count units in the last place between two values. */
function ulps(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat32(0, a, true);
  view.setFloat32(4, b, true);
  return Math.abs(view.getInt32(0, true) - view.getInt32(4, true));
}

describe('checkpoint/write', () => {
  needs('stories260K.bin');
  let dir: string;
  let cleanup: () => void;
  let stories: Model;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    stories = readCheckpoint(modelPath('stories260K.bin'));
  });
  afterEach(() => cleanup());

  /** Writes `model` as `format` to a temp file, checks the size against the header, reads it back. */
  function roundTrip(model: Model, format: CheckpointFormat, name = `model-${format}.bin`): { read: Model; bytes: Buffer } {
    const path = join(dir, name);
    writeCheckpoint(path, model, format);
    const bytes = readFileSync(path);
    const groupSize = model.tokenEmbedding.dtype === 'q8_0' ? model.tokenEmbedding.groupSize : undefined;
    expect(bytes.length).to.equal(checkpointBytes(model.config, format, model.sharedClassifier, groupSize));
    const read = readCheckpoint(path);
    expect(read.format).to.equal(format);
    return { read, bytes };
  }

  describe('round trips of stories260K.bin', () => {
    it('v0 -> v0 gives the identical bytes', () => {
      const { bytes } = roundTrip(stories, 'v0');
      expect(bytes.equals(readFileSync(modelPath('stories260K.bin')))).to.equal(true);
    });

    it('v0 -> v1 -> read gives the same weights, without RoPE tables', () => {
      const { read, bytes } = roundTrip(stories, 'v1');
      expectSameWeights(read, stories);
      expect(read.freqCis).to.equal(undefined);
      expect(bytes.readUInt32LE(0)).to.equal(0x616b3432);
      expect(bytes.readInt32LE(4)).to.equal(1);
      expect(bytes[36]).to.equal(1);
    });

    it('v1 -> v0 recomputes the RoPE tables within one ulp of the exported ones', () => {
      const v1 = roundTrip(stories, 'v1').read;
      const { read } = roundTrip(v1, 'v0', 'again-v0.bin');
      expectSameWeights(read, stories);
      const original = stories.freqCis!;
      let worst = 0;
      for (let i = 0; i < original.real.length; i++) {
        worst = Math.max(worst, ulps(read.freqCis!.real[i], original.real[i]), ulps(read.freqCis!.imag[i], original.imag[i]));
      }
      expect(worst).to.be.at.most(1);
      expect(Array.from(read.freqCis!.real)).to.deep.equal(Array.from(precomputeFreqCis(stories.config).real));
    });

    it('Q8_0 with group size 4 -> v2 -> read gives the same tensors', () => {
      const q8 = quantizeModel(stories, 4);
      const { read, bytes } = roundTrip(q8, 'v2');
      expectSameWeights(read, q8);
      expect(bytes.readInt32LE(4)).to.equal(2);
      expect(bytes[36]).to.equal(1);
      expect(bytes.readInt32LE(37)).to.equal(4);
      expect(bytes.subarray(41, 256).every((b) => b === 0)).to.equal(true);
    });
  });

  describe('separate classifier', () => {
    it('v0 stores it after the RoPE tables and marks it with a negative vocab_size', () => {
      const model = withSeparateClassifier(stories);
      const { read, bytes } = roundTrip(model, 'v0');
      expect(bytes.readInt32LE(20)).to.equal(-512);
      expect(bytes.length).to.equal(1_056_540 + 512 * 64 * 4);
      expect(read.classifier).to.not.equal(read.tokenEmbedding);
      expectSameWeights(read, model);
    });

    it('v1 stores it last, with shared_classifier 0', () => {
      const model = withSeparateClassifier(stories);
      const { read, bytes } = roundTrip(model, 'v1');
      expect(bytes[36]).to.equal(0);
      expect(bytes.readInt32LE(8 + 20)).to.equal(512);
      expectSameWeights(read, model);
    });

    it('v2 stores it quantized, last', () => {
      const model = quantizeModel(withSeparateClassifier(stories), 4);
      const { read, bytes } = roundTrip(model, 'v2');
      expect(bytes[36]).to.equal(0);
      expect(read.classifier.dtype).to.equal('q8_0');
      expectSameWeights(read, model);
    });
  });

  describe('refusals', () => {
    it('will not write quantized weights as v0 or v1', () => {
      const q8 = quantizeModel(stories, 4);
      for (const format of ['v0', 'v1'] as const) {
        const message = userError(() => writeCheckpoint(join(dir, 'x.bin'), q8, format)).message;
        expect(message).to.match(/stores fp32 weights, but token_embedding is q8_0 \(group size 4\)\. Write version 2/);
      }
      expect(existsSync(join(dir, 'x.bin'))).to.equal(false);
    });

    it('will not write fp32 weights as v2', () => {
      const message = userError(() => serializeCheckpoint(stories, 'v2', 'out.bin')).message;
      expect(message).to.match(/cannot write out\.bin as version 2: runq\.c expects every matrix .* as Q8_0, but token_embedding is f32/);
    });

    it('will not write v2 with a group size that does not divide every row (groups would straddle rows)', () => {
      const q8 = quantizeModel(stories, 64); // our rows: 172 = 64 + 64 + 44, fine in memory, not in a v2 file
      const message = userError(() => writeCheckpoint(join(dir, 'gs64.bin'), q8, 'v2')).message;
      expect(message).to.match(/group size 64 does not divide every row length: hidden_dim 172/);
      expect(message).to.match(/straddle rows.*the largest power of two that does is 4/);
    });

    it('will not write v2 with mixed group sizes', () => {
      const q8 = quantizeModel(stories, 4);
      q8.layers[3].wq = quantizeQ8(stories.layers[3].wq, 16);
      expect(userError(() => serializeCheckpoint(q8, 'v2')).message).to.match(/mixes group sizes 4, 16/);
    });

    it('reports a missing directory as a UserError and leaves no temporary file', () => {
      const message = userError(() => writeCheckpoint(join(dir, 'no', 'such', 'dir', 'm.bin'), stories, 'v1')).message;
      expect(message).to.match(/cannot write .*m\.bin: .*directory does not exist/);
    });

    it('leaves an existing file untouched when the model cannot be written', () => {
      const path = join(dir, 'keep.bin');
      writeFileSync(path, 'previous');
      userError(() => writeCheckpoint(path, quantizeModel(stories, 4), 'v1'));
      expect(readFileSync(path, 'utf8')).to.equal('previous');
      expect(readdirSync(dir)).to.deep.equal(['keep.bin']);
    });
  });

  describe('serializeCheckpoint', () => {
    it('yields views of the model, never one buffer for the whole file', () => {
      const chunks = [...serializeCheckpoint(stories, 'v1')];
      const total = chunks.reduce((n, c) => n + c.length, 0);
      expect(total).to.equal(checkpointBytes(stories.config, 'v1', true));
      expect(Math.max(...chunks.map((c) => c.length))).to.equal(512 * 64 * 4); // the embedding
      const wq = stories.layers[0].wq;
      expect(chunks.some((c) => wq.dtype === 'f32' && c.buffer === wq.data.buffer)).to.equal(true);
    });
  });
});
