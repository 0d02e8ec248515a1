import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parameterCount } from '../../src/checkpoint/model.js';
import type { CheckpointFormat, Config } from '../../src/checkpoint/model.js';
import { checkpointBytes, parseCheckpoint, readCheckpoint, readCheckpointHeader } from '../../src/checkpoint/read.js';
import { checkpointLayout } from '../../src/checkpoint/layout.js';
import { serializeCheckpoint } from '../../src/checkpoint/write.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { expectSameWeights, quantizeModel, syntheticModel } from './synthetic.js';
import { needs, requireNeeds } from '../helpers/needs.js';

const STORIES260K: Config = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 };

describe('checkpoint/read', () => {
  describe('stories260K.bin (legacy v0)', () => {
    needs('stories260K.bin');
    it('reads the header without the weights', function () {
      requireNeeds(this, 'stories260K.bin');
      const header = readCheckpointHeader(modelPath('stories260K.bin'));
      expect(header).to.deep.equal({
        format: 'v0',
        config: STORIES260K,
        sharedClassifier: true,
        groupSize: undefined,
        fileBytes: 1_056_540,
        expectedBytes: 1_056_540,
      });
    });

    it('reads every tensor in its place', function () {
      requireNeeds(this, 'stories260K.bin');
      const path = modelPath('stories260K.bin');
      const started = performance.now();
      const model = readCheckpoint(path);
      const ms = performance.now() - started;
      console.log(`      (stories260K.bin read and checked in ${ms.toFixed(1)} ms)`);

      expect(model.format).to.equal('v0');
      expect(model.config).to.deep.equal(STORIES260K);
      expect(model.sharedClassifier).to.equal(true);
      expect(model.classifier).to.equal(model.tokenEmbedding);
      expect(parameterCount(model)).to.equal(260_032);
      expect(model.layers).to.have.length(5);
      expect(model.layers[4].w2).to.include({ dtype: 'f32', rows: 64, cols: 172 });
      expect(model.layers[0].wk).to.include({ dtype: 'f32', rows: 32, cols: 64 });
      expect(model.freqCis?.real).to.have.length(512 * 4);

      // Spot-check values against the raw file: the first embedding value, the last w3 value,
      // rms_final and the first sine of the RoPE tables.
      const raw = readFileSync(path);
      const f32 = (byteOffset: number): number => raw.readFloatLE(byteOffset);
      const emb = model.tokenEmbedding;
      expect(emb.dtype === 'f32' && emb.data[0]).to.equal(f32(28));
      const w3 = model.layers[4].w3;
      const rmsFinalOffset = 28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 * 2 + 5 * 32 * 64 * 2 + 5 * 64 + 5 * 172 * 64 * 3);
      expect(w3.dtype === 'f32' && w3.data[w3.data.length - 1]).to.equal(f32(rmsFinalOffset - 4));
      expect(model.rmsFinal[63]).to.equal(f32(rmsFinalOffset + 63 * 4));
      expect(model.freqCis?.imag[0]).to.equal(f32(rmsFinalOffset + 256 + 2048 * 4));
    });

    it('uses views of the file buffer for aligned fp32 arrays', function () {
      requireNeeds(this, 'stories260K.bin');
      const model = readCheckpoint(modelPath('stories260K.bin'));
      const w = model.layers[2].wq;
      expect(w.dtype === 'f32' && w.data.buffer).to.equal(model.rmsFinal.buffer);
    });
  });

  describe('checkpointBytes', () => {
    const cases: [CheckpointFormat, boolean, number?][] = [
      ['v0', true],
      ['v0', false],
      ['v1', true],
      ['v1', false],
      ['v2', true, 4],
      ['v2', false, 4],
      ['v2', true, 64],
    ];
    for (const [format, shared, groupSize] of cases) {
      it(`equals the end of the layout (${format}, ${shared ? 'shared' : 'separate'} classifier${groupSize ? `, gs ${groupSize}` : ''})`, () => {
        const entries = checkpointLayout(STORIES260K, format, shared, groupSize);
        const last = entries[entries.length - 1];
        expect(checkpointBytes(STORIES260K, format, shared, groupSize)).to.equal(last.offset + last.bytes);
      });
    }

    it('gives the size of stories260K.bin and of its variants', () => {
      expect(checkpointBytes(STORIES260K, 'v0', true)).to.equal(1_056_540);
      expect(checkpointBytes(STORIES260K, 'v0', false)).to.equal(1_056_540 + 512 * 64 * 4);
      // v1: no RoPE tables, a 256-byte header.
      expect(checkpointBytes(STORIES260K, 'v1', true)).to.equal(256 + 260_032 * 4);
      // v2, gs 4: norms fp32; matrices one byte per value plus one fp32 scale per 4 values.
      const matrixValues = 260_032 - 11 * 64;
      expect(checkpointBytes(STORIES260K, 'v2', true, 4)).to.equal(256 + 11 * 64 * 4 + matrixValues * 2);
    });
  });

  describe('v2 with unaligned scales', () => {
    it('copies fp32 scales that follow an int8 block of odd length', () => {
      // vocab 3 × dim 2: the embedding's 6 int8 values leave its scales at an offset that is not a multiple of 4.
      const config: Config = { dim: 2, hiddenDim: 4, nLayers: 1, nHeads: 1, nKvHeads: 1, vocabSize: 3, seqLen: 4 };
      const model = quantizeModel(syntheticModel(config), 2);
      const bytes = Buffer.concat([...serializeCheckpoint(model, 'v2')]);
      const read = parseCheckpoint('tiny.bin', bytes);
      expectSameWeights(read, model);
      const emb = read.tokenEmbedding;
      expect(emb.dtype === 'q8_0' && emb.scales.buffer).to.not.equal(bytes.buffer);
    });
  });

  describe('readCheckpoint on a written file', () => {
    it('reads back a v1 file from disk', () => {
      const { dir, cleanup } = tempDir();
      try {
        const config: Config = { dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 10, seqLen: 6 };
        const model = syntheticModel(config, false);
        const path = join(dir, 'synthetic.bin');
        writeFileSync(path, Buffer.concat([...serializeCheckpoint(model, 'v1')]));
        const read = readCheckpoint(path);
        expect(read.format).to.equal('v1');
        expect(read.freqCis).to.equal(undefined);
        expectSameWeights(read, model);
      } finally {
        cleanup();
      }
    });
  });
});
