import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, Model, Tensor } from '../../src/checkpoint/model.js';
import { parseCheckpoint, readCheckpoint, readCheckpointHeader } from '../../src/checkpoint/read.js';
import { serializeCheckpoint, writeCheckpoint } from '../../src/checkpoint/write.js';
import { OWN_ALIGNMENT, OWN_HEADER_BYTES, OWN_TABLE_ENTRY_BYTES } from '../../src/checkpoint/own-format.js';
import { checkpointLayout, storedTensors } from '../../src/checkpoint/layout.js';
import { Transformer } from '../../src/engine/transformer.js';
import { matricesOf, quantizeModel } from '../../src/quant/schemes.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { syntheticModel, withSeparateClassifier } from '../checkpoint/synthetic.js';
import { userError } from '../helpers/errors.js';
import { needs } from '../helpers/needs.js';

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

function expectSameTensor(actual: Tensor, expected: Tensor, what: string): void {
  expect({ dtype: actual.dtype, rows: actual.rows, cols: actual.cols }, what).to.deep.equal({
    dtype: expected.dtype,
    rows: expected.rows,
    cols: expected.cols,
  });
  if (actual.dtype === 'f32' || expected.dtype === 'f32') {
    expect(bits((actual as { data: Float32Array }).data), what).to.deep.equal(bits((expected as { data: Float32Array }).data));
    return;
  }
  expect(actual.groupSize, what).to.equal(expected.groupSize);
  expect(Array.from(actual.q), `${what} values`).to.deep.equal(Array.from(expected.q));
  expect(bits(actual.scales), `${what} scales`).to.deep.equal(bits(expected.scales));
}

/** Every tensor and norm equal, bit for bit. */
function expectSameModel(actual: Model, expected: Model): void {
  expect(actual.config).to.deep.equal(expected.config);
  expect(actual.sharedClassifier).to.equal(expected.sharedClassifier);
  const a = matricesOf(actual);
  const e = matricesOf(expected);
  expect(a.length).to.equal(e.length);
  a.forEach((m, i) => expectSameTensor(m.tensor, e[i].tensor, `matrix ${i} (${m.role})`));
  if (actual.sharedClassifier) expect(actual.classifier).to.equal(actual.tokenEmbedding);
  expect(bits(actual.rmsFinal)).to.deep.equal(bits(expected.rmsFinal));
  actual.layers.forEach((l, i) => {
    expect(bits(l.rmsAtt), `layers.${i}.rms_att`).to.deep.equal(bits(expected.layers[i].rmsAtt));
    expect(bits(l.rmsFfn), `layers.${i}.rms_ffn`).to.deep.equal(bits(expected.layers[i].rmsFfn));
  });
}

describe("checkpoint/own-format (llama2-embed's own checkpoint format)", () => {
  needs('stories260K.bin');
  let dir: string;
  let cleanup: () => void;
  let stories: Model;
  before(() => {
    stories = readCheckpoint(modelPath('stories260K.bin'));
  });
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  function roundTrip(model: Model, name: string): { read: Model; bytes: Buffer; path: string } {
    const path = join(dir, name);
    writeCheckpoint(path, model, 'own');
    const read = readCheckpoint(path);
    expect(read.format).to.equal('own');
    return { read, bytes: readFileSync(path), path };
  }

  for (const scheme of ['q4_0', 'mixed', 'q8_0'] as const) {
    it(`round-trips stories260K quantized to ${scheme} bit for bit, and writes the read model back to the same bytes`, () => {
      const { model } = quantizeModel(stories, scheme);
      const { read, bytes } = roundTrip(model, `${scheme}.bin`);
      expectSameModel(read, model);
      expect(Buffer.concat([...serializeCheckpoint(read, 'own')]).equals(bytes)).to.equal(true);
    });
  }

  it('round-trips fp32, a separate classifier, odd row lengths and per-tensor group sizes', () => {
    const config: Config = { dim: 12, hiddenDim: 27, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 13, seqLen: 8 };
    const base = withSeparateClassifier(syntheticModel(config));
    const q4 = quantizeModel(base, 'q4_0', { groupSize: 4 }).model;
    const q8 = quantizeModel(base, 'q8_0', { groupSize: 3 }).model;
    const patchwork: Model = {
      ...q4,
      classifier: q8.classifier,
      layers: q4.layers.map((l, i) => ({ ...l, w2: i === 0 ? q8.layers[0].w2 : base.layers[1].w2 })),
    };
    expectSameModel(roundTrip(base, 'f32.bin').read, base);
    const { read, path } = roundTrip(patchwork, 'patchwork.bin');
    expectSameModel(read, patchwork);
    expect(readCheckpointHeader(path).groupSize).to.equal(undefined); // no single group size
  });

  it('lays out a 64-byte header, a table of 64-byte entries, and every tensor on a 64-byte boundary', () => {
    const { model } = quantizeModel(stories, 'mixed');
    const { bytes, path } = roundTrip(model, 'mixed.bin');
    expect(bytes.subarray(0, 4).toString('latin1')).to.equal('L2EQ');
    expect(bytes.readUInt32LE(4)).to.equal(1);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => bytes.readInt32LE(8 + 4 * i))).to.deep.equal([64, 172, 5, 8, 4, 512, 512]);
    expect(bytes[36]).to.equal(1);
    expect(bytes.readUInt32LE(40)).to.equal(47); // 11 norms + embedding + 35 layer matrices
    expect(bytes.readUInt32LE(44)).to.equal(OWN_ALIGNMENT);

    const header = readCheckpointHeader(path);
    expect(header).to.include({
      format: 'own',
      sharedClassifier: true,
      groupSize: 32,
      fileBytes: bytes.length,
      expectedBytes: bytes.length,
    });
    const tensors = header.tensors!;
    expect(tensors[0]).to.include({
      name: 'layers.0.rms_att',
      dtype: 'f32',
      rows: 1,
      cols: 64,
      groupSize: 0,
      offset: OWN_HEADER_BYTES + 47 * OWN_TABLE_ENTRY_BYTES,
    });
    const w2 = tensors.find((t) => t.name === 'layers.0.w2')!;
    // 64 rows of 86 packed bytes, padded to 4 (5504 already is), then 64 × 6 scales
    expect(w2).to.include({
      dtype: 'q4_0',
      rows: 64,
      cols: 172,
      groupSize: 32,
      bytes: 64 * 86 + 64 * 6 * 4,
      scalesOffset: w2.offset + 64 * 86,
    });
    const embedding = tensors.find((t) => t.name === 'token_embedding')!;
    expect(embedding).to.include({ dtype: 'q8_0', rows: 512, cols: 64, groupSize: 32 });
    for (const t of tensors) {
      expect(t.offset % 64, t.name).to.equal(0);
      expect(t.scalesOffset % 4, t.name).to.equal(0);
    }
    // the table entry of w2, field by field
    const at = OWN_HEADER_BYTES + tensors.indexOf(w2) * OWN_TABLE_ENTRY_BYTES;
    expect(
      bytes
        .subarray(at, at + 32)
        .toString('latin1')
        .replace(/\0+$/, ''),
    ).to.equal('layers.0.w2');
    expect([bytes[at + 32], bytes.readUInt32LE(at + 36), bytes.readUInt32LE(at + 40), bytes.readUInt32LE(at + 44)]).to.deep.equal([
      2, 64, 172, 32,
    ]);
    expect([bytes.readUInt32LE(at + 48), bytes.readUInt32LE(at + 52), bytes.readUInt32LE(at + 56)]).to.deep.equal([
      w2.offset,
      w2.bytes,
      w2.scalesOffset,
    ]);
    // the first packed byte of w2 is its row 0, values 0 and 1
    const q = model.layers[0].w2;
    expect(q.dtype === 'q4_0' && bytes[w2.offset]).to.equal(q.dtype === 'q4_0' && q.q[0]);
  });

  it('describes its tensors for inspect like llama2.c files (storedTensors)', () => {
    const { path } = roundTrip(quantizeModel(stories, 'q4_0').model, 'q4.bin');
    const own = storedTensors(readCheckpointHeader(path));
    expect(own.find((t) => t.name === 'layers.4.w2')).to.deep.include({
      rows: 64,
      cols: 172,
      dtype: 'q4_0',
      groupSize: 32,
      bytes: 64 * 86 + 64 * 6 * 4,
    });
    expect(own.find((t) => t.name === 'rms_final')).to.not.have.property('groupSize');
    const v0 = storedTensors(readCheckpointHeader(modelPath('stories260K.bin')));
    const layout = checkpointLayout(stories.config, 'v0', true);
    expect(v0.map((t) => [t.name, t.dtype, t.offset, t.bytes])).to.deep.equal(layout.map((e) => [e.name, 'f32', e.offset, e.bytes]));
  });

  it('runs in the engine exactly as the model it was written from', () => {
    const { model } = quantizeModel(stories, 'q4_0');
    const { read } = roundTrip(model, 'q4.bin');
    const a = new Transformer(model);
    const b = new Transformer(read);
    for (const [pos, token] of [1, 403, 407, 261, 378].entries())
      expect(bits(b.forward(token, pos))).to.deep.equal(bits(a.forward(token, pos)));
  });

  it('is written as a stream of views, atomically', () => {
    const { model } = quantizeModel(stories, 'q4_0');
    const chunks = [...serializeCheckpoint(model, 'own')];
    const w1 = model.layers[3].w1;
    expect(chunks.some((c) => w1.dtype === 'q4_0' && c.buffer === w1.q.buffer)).to.equal(true);
    const missing = join(dir, 'no-such-dir', 'out.bin');
    expect(userError(() => writeCheckpoint(missing, model, 'own')).message).to.contain('does not exist');
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it("refuses to write Q4_0 weights in llama2.c's formats, pointing to the own format", () => {
    const q4 = quantizeModel(stories, 'q4_0').model;
    for (const format of ['v0', 'v1', 'v2'] as const) {
      const message = userError(() => serializeCheckpoint(q4, format, 'out.bin')).message;
      expect(message).to.match(/no 4-bit weights.*q4_0 \(group size 32\).*own format/);
    }
    const mixed = quantizeModel(stories, 'mixed', { groupSize: 4 }).model;
    expect(userError(() => serializeCheckpoint(mixed, 'v2', 'out.bin')).message).to.match(/layers\.0\.wq is q4_0/);
    expect(existsSync(join(dir, 'out.bin'))).to.equal(false);
  });

  describe('validation', () => {
    let good: Buffer;
    let tensors: NonNullable<ReturnType<typeof readCheckpointHeader>['tensors']>;
    beforeEach(() => {
      const path = join(dir, 'good.bin');
      writeCheckpoint(path, quantizeModel(stories, 'mixed').model, 'own');
      good = readFileSync(path);
      tensors = readCheckpointHeader(path).tensors!;
    });

    /** The message of reading `bytes` from a file (readCheckpoint) and from memory (parseCheckpoint): the same. */
    function readError(bytes: Uint8Array): string {
      const path = join(dir, 'bad.bin');
      writeFileSync(path, bytes);
      const fromFile = userError(() => readCheckpoint(path)).message;
      expect(fromFile.startsWith(`${path}: `)).to.equal(true);
      const fromMemory = userError(() => parseCheckpoint(path, bytes)).message;
      expect(fromMemory).to.equal(fromFile);
      return fromFile;
    }

    const entry = (name: string): number => OWN_HEADER_BYTES + tensors.findIndex((t) => t.name === name) * OWN_TABLE_ENTRY_BYTES;
    const edited = (edit: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(good);
      edit(b);
      return b;
    };

    it('reports a file cut inside the header, the table or the data', () => {
      expect(readError(good.subarray(0, 40))).to.match(
        /too short for a llama2-embed checkpoint: expected at least its 64-byte header, found 40 bytes/,
      );
      expect(readError(good.subarray(0, 1000))).to.match(/tensor table of 47 entries ends at byte 3,072, but the file has 1,000 bytes/);
      expect(readError(good.subarray(0, good.length - 100))).to.match(
        /tensor wcls|tensor layers\.4\.w3 lies at bytes .* but the file has only .*truncated/,
      );
    });

    it('reports an unknown version, a damaged count and trailing bytes', () => {
      expect(readError(edited((b) => b.writeUInt32LE(2, 4)))).to.match(/of version 2; this version of llama2-embed reads version 1/);
      expect(readError(edited((b) => b.writeUInt32LE(46, 40)))).to.match(
        /table lists 46 tensors, but its config \(5 layers, shared classifier\) has 47/,
      );
      expect(readError(Buffer.concat([good, Buffer.alloc(8)]))).to.match(/8 trailing bytes/);
      expect(readError(edited((b) => (b[36] = 0)))).to.match(
        /table lists 47 tensors, but its config \(5 layers, separate classifier\) has 48/,
      );
    });

    it('reports nonsense dimensions as for llama2.c files', () => {
      expect(readError(edited((b) => b.writeInt32LE(7, 8 + 12)))).to.match(/dim 64 is not a multiple of n_heads 7/);
    });

    it('checks every table entry against the config', () => {
      expect(readError(edited((b) => b.write('layers.0.wx\0', entry('layers.0.wq'), 'latin1')))).to.match(
        /entry 12 is named "layers\.0\.wx", where "layers\.0\.wq" belongs/,
      );
      expect(readError(edited((b) => b.writeUInt32LE(63, entry('layers.2.w2') + 36)))).to.match(
        /tensor layers\.2\.w2 is \[63, 172\] in the table, but the config in its header makes it \[64, 172\]/,
      );
      expect(readError(edited((b) => (b[entry('layers.1.wk') + 32] = 9)))).to.match(/tensor layers\.1\.wk has dtype code 9/);
      expect(readError(edited((b) => (b[entry('layers.1.wk') + 33] = 1)))).to.match(
        /scale dtype code 1; version 1 stores fp32 scales only/,
      );
      expect(readError(edited((b) => (b[entry('rms_final') + 32] = 2)))).to.match(/norm rms_final is stored as q4_0; norms are always f32/);
      expect(readError(edited((b) => b.writeUInt32LE(0, entry('layers.0.w1') + 44)))).to.match(
        /tensor layers\.0\.w1 \(q4_0\) has group size 0/,
      );
      expect(readError(edited((b) => b.writeUInt32LE(16, entry('layers.0.w1') + 44)))).to.match(
        /tensor layers\.0\.w1 \(q4_0 \[172, 64\], group size 16\) is given 6,880 bytes with scales 5,504 bytes in, where it takes 8,256 bytes with scales 5,504 bytes in/,
      );
    });

    it('checks where every tensor lies', () => {
      const w3 = entry('layers.3.w3');
      expect(readError(edited((b) => b.writeUInt32LE(b.readUInt32LE(w3 + 48) + 4, w3 + 48)))).to.match(
        /starts at byte .*, not on a 64-byte boundary/,
      );
      expect(readError(edited((b) => b.writeUInt32LE(4_000_000_000, w3 + 48)))).to.match(
        /tensor layers\.3\.w3 lies at bytes 4,000,000,000 to .* but the file has only .* bytes/,
      );
      const wo = entry('layers.0.wo');
      const overlapping = edited((b) => {
        // move wo (scales and all) onto the start of wv
        const shift = b.readUInt32LE(wo + 48) - b.readUInt32LE(entry('layers.0.wv') + 48);
        b.writeUInt32LE(b.readUInt32LE(wo + 48) - shift, wo + 48);
        b.writeUInt32LE(b.readUInt32LE(wo + 56) - shift, wo + 56);
      });
      expect(readError(overlapping)).to.match(/tensor layers\.0\.wo starts at byte .*, inside the table or the tensor before it/);
    });
  });
});
