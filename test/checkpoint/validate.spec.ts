/**
 * Every way a checkpoint can be wrong, each checked for a UserError that names the file, says what
 * was expected and found, and what to do.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, Model } from '../../src/checkpoint/model.js';
import { checkpointBytes, readCheckpoint, readCheckpointHeader } from '../../src/checkpoint/read.js';
import { encodeCheckpointHeader } from '../../src/checkpoint/header.js';
import { checkpointLayout } from '../../src/checkpoint/layout.js';
import { findNonFinite, largestFittingGroupSize } from '../../src/checkpoint/validate.js';
import { serializeCheckpoint } from '../../src/checkpoint/write.js';
import { UserError } from '../../src/util/errors.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { quantizeModel, syntheticModel } from './synthetic.js';
import { userError } from '../helpers/errors.js';
import { needs, requireNeeds } from '../helpers/needs.js';

const STORIES260K: Config = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 };

/** The seven v0 header int32s. */
function v0Header(ints: number[]): Buffer {
  const b = Buffer.alloc(28);
  ints.forEach((v, i) => b.writeInt32LE(v, i * 4));
  return b;
}

/** A 256-byte v1/v2 header with arbitrary values. */
function versionedHeader(version: number, ints: number[], shared = 1, groupSize = 0): Buffer {
  const b = Buffer.alloc(256);
  b.writeUInt32LE(0x616b3432, 0);
  b.writeInt32LE(version, 4);
  ints.forEach((v, i) => b.writeInt32LE(v, 8 + i * 4));
  b[36] = shared;
  b.writeInt32LE(groupSize, 37);
  return b;
}

const STORIES_INTS = [64, 172, 5, 8, 4, 512, 512];

describe('checkpoint/validate', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  /** Writes `bytes` to a temp file and returns the UserError readCheckpoint throws for it. */
  function readError(name: string, bytes: Uint8Array): UserError {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    const err = userError(() => readCheckpoint(path));
    expect(err.message.startsWith(`${path}: `), err.message).to.equal(true);
    expect(err.exitCode).to.equal(1);
    return err;
  }

  describe('the file itself', () => {
    it('reports a missing file', () => {
      const err = userError(() => readCheckpoint(join(dir, 'nope.bin')));
      expect(err.message).to.match(/nope\.bin: no such file/);
    });

    it('reports a directory', () => {
      mkdirSync(join(dir, 'sub.bin'));
      expect(userError(() => readCheckpoint(join(dir, 'sub.bin'))).message).to.match(/is a directory/);
    });

    it('reports an empty file', () => {
      expect(readError('empty.bin', new Uint8Array(0)).message).to.match(/empty \(0 bytes\).*again/);
    });

    it('reports a v0 header cut short', () => {
      expect(readError('short.bin', v0Header(STORIES_INTS).subarray(0, 10)).message).to.match(
        /too short.*28 bytes.*found 10 bytes.*get the file again/,
      );
    });

    it('reports a v1/v2 header cut short (magic only, and magic + version)', () => {
      const header = versionedHeader(1, STORIES_INTS);
      expect(readError('magic.bin', header.subarray(0, 6)).message).to.match(/too short.*256-byte.*found 6 bytes/);
      expect(readError('partial.bin', header.subarray(0, 100)).message).to.match(/too short.*256-byte.*found 100 bytes/);
    });
  });

  describe('foreign files', () => {
    it('recognises a GGUF file', () => {
      const gguf = Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.alloc(100)]);
      const message = readError('model.gguf', gguf).message;
      expect(message)
        .to.match(/GGUF/)
        .and.match(/reads llama2\.c \.bin checkpoints/);
    });

    it('recognises a zip (PyTorch) archive', () => {
      const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100)]);
      expect(readError('ckpt.pt', zip).message).to.match(/zip archive.*export\.py/);
    });

    it('recognises a tokenizer passed as the model (tok512.bin)', function () {
      requireNeeds(this, 'tok512.bin');
      const message = userError(() => readCheckpoint(modelPath('tok512.bin'))).message;
      expect(message).to.match(/tok512\.bin: not a model checkpoint/);
      expect(message).to.match(/llama2\.c tokenizer file \(max_token_length 7, first tokens "<unk>"/);
      expect(message).to.match(/as the tokenizer/);
    });

    it('recognises the Llama 2 tokenizer.bin too', function () {
      requireNeeds(this, 'tokenizer.bin');
      expect(userError(() => readCheckpointHeader(modelPath('tokenizer.bin'))).message).to.match(/tokenizer file \(max_token_length 27/);
    });

    it('does not take a real model whose first bytes happen to look like a pickle for one', () => {
      // dim 640 = 0x280 starts with the bytes 0x80 0x02, like a protocol-2 pickle.
      const path = join(dir, 'dim640.bin');
      writeFileSync(path, v0Header([640, 1728, 1, 10, 10, 32, 16]));
      expect(readCheckpointHeader(path)).to.include({ format: 'v0', fileBytes: 28 });
    });

    it('reports an unknown version after the magic', () => {
      const message = readError('v3.bin', versionedHeader(3, STORIES_INTS)).message;
      expect(message).to.match(/version 3; this tool reads versions 1 \(fp32\) and 2 \(Q8_0\)/);
    });
  });

  describe('header dimensions', () => {
    const bad = (ints: number[]): string => readError('bad.bin', Buffer.concat([v0Header(ints), Buffer.alloc(64)])).message;

    it('rejects non-positive dimensions', () => {
      const message = bad([64, 172, 0, 8, 4, 512, -3]);
      expect(message).to.match(/legacy v0 header, which says dim 64, hidden_dim 172, n_layers 0/);
      expect(message).to.match(/n_layers is 0, expected a positive number/);
      expect(message).to.match(/seq_len is -3, expected a positive number/);
      expect(message).to.match(/download or export it again/);
    });

    it('rejects vocab_size 0 in v0 (negative only marks a separate classifier)', () => {
      expect(bad([64, 172, 5, 8, 4, 0, 512])).to.match(/vocab_size is 0/);
    });

    it('rejects a negative vocab_size in v1', () => {
      const ints = [...STORIES_INTS];
      ints[5] = -512;
      expect(readError('neg.bin', versionedHeader(1, ints)).message).to.match(
        /vocab_size is -512, expected a positive number \(v1\/v2 files store it positive\)/,
      );
    });

    it('rejects dim not divisible by n_heads', () => {
      expect(bad([64, 172, 5, 6, 6, 512, 512])).to.match(/dim 64 is not a multiple of n_heads 6/);
    });

    it('rejects n_heads not divisible by n_kv_heads', () => {
      expect(bad([64, 172, 5, 8, 3, 512, 512])).to.match(/n_heads 8 is not a multiple of n_kv_heads 3/);
    });

    it('rejects an odd head_size', () => {
      expect(bad([72, 172, 5, 8, 4, 512, 512])).to.match(/head_size = dim \/ n_heads = 9 is odd.*RoPE/);
    });

    it('rejects absurd values', () => {
      expect(bad([64, 172, 5, 8, 4, 512, 1 << 24])).to.match(/seq_len is 16,777,216, implausibly large \(the limit is 1,048,576\)/);
    });

    it('rejects a shared_classifier byte other than 0 or 1', () => {
      expect(readError('flag.bin', versionedHeader(1, STORIES_INTS, 7)).message).to.match(
        /shared_classifier byte \(offset 36\) is 7; expected 0 or 1/,
      );
    });
  });

  describe('file size', () => {
    needs('stories260K.bin');
    const original = (): Buffer => readFileSync(modelPath('stories260K.bin'));

    it('reports a truncated file with expected and found sizes', () => {
      const message = readError('cut.bin', original().subarray(0, 1_000_000)).message;
      expect(message).to.match(/implies 1,056,540 bytes, but the file has 1,000,000 \(56,540 missing\)/);
      expect(message).to.match(/truncated.*get it again/);
    });

    it('reports trailing bytes', () => {
      const message = readError('long.bin', Buffer.concat([original(), Buffer.alloc(12)])).message;
      expect(message).to.match(/12 too many.*trailing bytes/);
    });

    it('says when a v0 file carries a classifier its positive vocab_size does not announce', () => {
      const message = readError('extra.bin', Buffer.concat([original(), Buffer.alloc(512 * 64 * 4)])).message;
      expect(message).to.match(/131,072 too many/);
      expect(message).to.match(/exactly a separate classifier wcls \[512, 64\] \(131,072 bytes\): the sign of vocab_size looks wrong/);
    });

    it('says when a negative vocab_size announces a classifier the v0 file lacks', () => {
      const bytes = original();
      bytes.writeInt32LE(-512, 20);
      const message = readError('flipped.bin', bytes).message;
      expect(message).to.match(/131,072 missing/);
      expect(message).to.match(/shortfall is exactly a separate classifier.*sign of vocab_size looks wrong/);
    });

    it('says when the shared_classifier byte of a v1 file looks wrong', () => {
      const model = syntheticModel({ ...STORIES260K, nLayers: 1 }, false);
      const bytes = Buffer.concat([...serializeCheckpoint(model, 'v1')]);
      bytes[36] = 1;
      expect(readError('v1flag.bin', bytes).message).to.match(/shared_classifier byte \(1\) looks wrong/);
    });

    it('refuses files above 2 GiB, as out of scope', function () {
      // A sparse file whose size matches a 2.4 GB header: nothing is read beyond the header.
      const config: Config = { dim: 4096, hiddenDim: 4096, nLayers: 4, nHeads: 32, nKvHeads: 32, vocabSize: 32000, seqLen: 16 };
      const bytes = checkpointBytes(config, 'v1', true);
      expect(bytes).to.be.greaterThan(2 ** 31);
      const path = join(dir, 'huge.bin');
      writeFileSync(path, encodeCheckpointHeader('v1', config, true));
      truncateSync(path, bytes);
      const message = userError(() => readCheckpoint(path)).message;
      expect(message).to.match(/models above 2 GiB .* are out of scope/);
    });
  });

  describe('weights', () => {
    const tiny: Config = { dim: 8, hiddenDim: 12, nLayers: 3, nHeads: 2, nKvHeads: 2, vocabSize: 10, seqLen: 4 };

    function poisoned(edit: (m: Model) => void, format: 'v1' | 'v2' = 'v1'): Buffer {
      const model = format === 'v2' ? quantizeModel(syntheticModel(tiny), 4) : syntheticModel(tiny);
      edit(model);
      return Buffer.concat([...serializeCheckpoint(model, format)]);
    }

    it('names the tensor, layer and index of a NaN', () => {
      const bytes = poisoned((m) => {
        const w1 = m.layers[2].w1;
        if (w1.dtype === 'f32') w1.data[8 * 3 + 5] = NaN;
      });
      const message = readError('nan.bin', bytes).message;
      expect(message).to.match(/tensor layers\.2\.w1 \(layer 2\) holds NaN at value 29 \(row 3, column 5\); expected finite weights/);
      expect(message).to.match(/download or export it again/);
    });

    it('finds an infinity in a norm', () => {
      const bytes = poisoned((m) => {
        m.rmsFinal[7] = -Infinity;
      });
      expect(readError('inf.bin', bytes).message).to.match(/tensor rms_final holds -Infinity at value 7 \(row 0, column 7\)/);
    });

    it('finds a non-finite Q8_0 scale', () => {
      const bytes = poisoned((m) => {
        const wo = m.layers[1].wo;
        if (wo.dtype === 'q8_0') wo.scales[5] = Infinity;
      }, 'v2');
      expect(readError('scale.bin', bytes).message).to.match(
        /tensor layers\.1\.wo \(layer 1\) holds Infinity at scale 5 \(row 2, group 1\)/,
      );
    });

    it('can skip the check', () => {
      const path = join(dir, 'nan.bin');
      writeFileSync(
        path,
        poisoned((m) => m.layers[0].rmsAtt.fill(NaN)),
      );
      const model = readCheckpoint(path, { checkFinite: false });
      expect(findNonFinite(model)).to.include({ tensor: 'layers.0.rms_att', layer: 0, index: 0 });
    });
  });

  describe('v2 group size', () => {
    it('rejects a group size <= 0', () => {
      const message = readError('gs0.bin', versionedHeader(2, STORIES_INTS, 1, 0)).message;
      expect(message).to.match(/group size 0 \(int32 at byte 37\); expected a positive group size/);
    });

    it('explains groups that straddle rows (llama2.c export.py of stories260K with gs 64)', () => {
      // The layout export.py writes: each tensor flattened into groups of 64, so w2's rows of 172 values
      // share groups. Its values do not matter here: the header alone condemns it.
      const size = checkpointBytes(STORIES260K, 'v2', true, 64);
      const bytes = Buffer.alloc(size);
      versionedHeader(2, STORIES_INTS, 1, 64).copy(bytes);
      expect(checkpointLayout(STORIES260K, 'v2', true, 64).find((e) => e.name === 'layers.0.w2')?.scaleCount).to.equal(172);
      const message = readError('stories260K_q80.bin', bytes).message;
      expect(message).to.match(
        /group size 64, which does not divide every row length: hidden_dim 172 \(the row length of w2\) is not a multiple of 64/,
      );
      expect(message).to.match(/groups straddle rows, and runq\.c .* computes wrong results/);
      expect(message).to.match(
        /Re-export from the fp32 checkpoint with a group size that divides dim 64 and hidden_dim 172: the largest power of two that does is 4/,
      );
    });

    it('computes the largest power of two dividing every row length', () => {
      expect(largestFittingGroupSize(STORIES260K)).to.equal(4);
      expect(largestFittingGroupSize({ ...STORIES260K, dim: 288, hiddenDim: 768 })).to.equal(32); // stories15M
      expect(largestFittingGroupSize({ ...STORIES260K, dim: 768, hiddenDim: 2048 })).to.equal(256); // stories110M
    });
  });
});
