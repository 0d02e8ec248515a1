import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamingDecoder, Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { modelPath, readGoldenIds, tempDir } from '../helpers/fixtures.js';

const tok512 = () => Tokenizer.read(modelPath('tok512.bin'), 512);
const llama = () => Tokenizer.read(modelPath('tokenizer.bin'), 32000);

/** The bytes run.c's decode gives for a whole encoded text (skipping BOS, as generate does). */
function decodedBytes(t: Tokenizer, ids: number[]): Buffer {
  const parts: Uint8Array[] = [];
  for (let i = 1; i < ids.length; i++) parts.push(t.decode(ids[i - 1], ids[i]));
  return Buffer.concat(parts);
}

describe('tokenizer', () => {
  describe('encode, as llama2.c run.c', () => {
    for (const [file, prompt] of [
      ['stories260K_f32_greedy_empty.ids', ''],
      ['stories260K_f32_greedy_once_upon_a_time.ids', 'Once upon a time'],
      ['stories260K_f32_t1.0_p0.9_s42_one_day.ids', 'One day'],
    ]) {
      it(`gives the golden prompt ids for "${prompt}"`, () => {
        expect(tok512().encode(prompt, true, false)).to.deep.equal(readGoldenIds(file).prompt);
      });
    }

    it('adds BOS, the dummy-prefix space and EOS as asked', () => {
      const t = tok512();
      const ids = t.encode('hi', true, true);
      expect(ids[0]).to.equal(1);
      expect(ids[ids.length - 1]).to.equal(2);
      expect(t.encode('', false, false)).to.deep.equal([]);
      expect(t.encode('', true, true)).to.deep.equal([1, 2]);
    });

    it('falls back to byte tokens (id = byte + 3) for characters not in the vocabulary', () => {
      const t = tok512();
      expect(t.lookup('𝄞')).to.equal(-1); // F0 9D 84 9E, not in the 512-token vocabulary
      const ids = t.encode('𝄞', false, false);
      expect(ids.slice(1)).to.deep.equal([0xf0 + 3, 0x9d + 3, 0x84 + 3, 0x9e + 3]);
    });

    it('merges the best-scoring pair first (the Llama 2 vocabulary)', () => {
      const t = llama();
      const ids = t.encode('Hello world', true, false);
      expect(ids).to.deep.equal([1, 15043, 3186]); // "▁Hello", "▁world"
    });

    it('encodes a long prompt quickly', () => {
      const t = llama();
      const text = 'Once upon a time, there was a little girl named Lily. '.repeat(80);
      const started = performance.now();
      const ids = t.encode(text, true, false);
      expect(performance.now() - started).to.be.below(2000);
      expect(decodedBytes(t, ids).toString('utf8')).to.equal(text);
    });
  });

  describe('decode, as llama2.c run.c', () => {
    it('drops the leading space of the first piece after BOS only', () => {
      const t = tok512();
      const space = t.lookup(' ');
      expect(Buffer.from(t.decode(1, space)).toString()).to.equal('');
      expect(Buffer.from(t.decode(5, space)).toString()).to.equal(' ');
    });

    it('turns byte pieces <0xAB> into the byte', () => {
      const t = tok512();
      expect(Array.from(t.decode(5, 0x0a + 3))).to.deep.equal([0x0a]);
      expect(Array.from(t.decode(5, 0xe2 + 3))).to.deep.equal([0xe2]);
    });

    it('prints what safe_printf prints: nothing for a lone unprintable byte', () => {
      const t = tok512();
      expect(Array.from(t.printable(5, 0xe2 + 3))).to.deep.equal([]);
      expect(Array.from(t.printable(5, 0x0a + 3))).to.deep.equal([0x0a]);
      expect(Array.from(t.printable(5, 0x00 + 3))).to.deep.equal([]);
    });

    it('the streaming decoder keeps a character split across byte tokens', () => {
      const t = tok512();
      const ids = t.encode('a 𝄞 b', true, false);
      const decoder = new StreamingDecoder(t);
      let text = '';
      for (let i = 1; i < ids.length; i++) text += decoder.push(ids[i - 1], ids[i]);
      expect(text + decoder.flush()).to.equal('a 𝄞 b');
      // run.c would print none of the four bytes of 𝄞
      const printed = Buffer.concat(ids.slice(1).map((id, i) => t.printable(ids[i], id))).toString('latin1');
      expect(printed).to.equal('a  b');
    });

    it('an incomplete character at the end becomes U+FFFD', () => {
      const t = tok512();
      const decoder = new StreamingDecoder(t);
      expect(decoder.push(5, 0xe2 + 3)).to.equal('');
      expect(decoder.flush()).to.equal('\ufffd');
    });
  });

  describe('round trips (property tests)', () => {
    for (const [name, load] of [
      ['tok512.bin', tok512],
      ['tokenizer.bin', llama],
    ] as const) {
      it(`decode(encode(s)) gives back any Unicode string with ${name}`, () => {
        const t = load();
        fc.assert(
          fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
            const text = s.replace(/\0/g, ''); // C strings end at NUL
            const ids = t.encode(text, true, false);
            expect(decodedBytes(t, ids).toString('utf8')).to.equal(text);
            expect(t.decodeText(ids)).to.equal(text);
          }),
          { numRuns: 300 },
        );
      });
    }

    it('handles emoji, CJK, combining marks and control characters', () => {
      const t = llama();
      for (const s of ['👩‍👩‍👧 family', '日本語のテキスト', 'e\u0301 combining', 'tab\tnew\nline\r', '\u0001\u007f']) {
        expect(t.decodeText(t.encode(s, true, false))).to.equal(s);
      }
    });
  });

  describe('reading tokenizer.bin', () => {
    const tmp = tempDir();
    after(() => tmp.cleanup());
    const write = (name: string, bytes: Buffer) => {
      const path = join(tmp.dir, name);
      writeFileSync(path, bytes);
      return path;
    };

    it('reads both vocabularies', () => {
      expect(tok512().vocabSize).to.equal(512);
      expect(tok512().maxTokenLength).to.equal(7);
      expect(llama().vocabSize).to.equal(32000);
      expect(Buffer.from(llama().piece(3186)).toString()).to.equal(' world');
    });

    it('says what is wrong with a missing file', () => {
      expect(() => Tokenizer.read(join(tmp.dir, 'nope.bin'), 512)).to.throw(/nope\.bin: no such tokenizer file/);
    });

    it('says what is wrong with a file too short for its header', () => {
      expect(() => Tokenizer.read(write('short.bin', Buffer.from([1, 0])), 512)).to.throw(/2 bytes, less than its 4-byte header/);
    });

    it('recognizes a checkpoint passed as the tokenizer', () => {
      expect(() => Tokenizer.read(modelPath('stories260K.bin'), 512)).to.throw(/stories260K\.bin: not a llama2\.c tokenizer\.bin .*checkpoint rather than a tokenizer/);
    });

    it('says how many tokens a truncated file has and how many the model needs', () => {
      const full = readFileSync(modelPath('tok512.bin'));
      expect(() => Tokenizer.read(write('trunc.bin', full.subarray(0, 2000)), 512)).to.throw(/truncated|ends after \d+ tokens/);
      expect(() => Tokenizer.read(modelPath('tok512.bin'), 32000)).to.throw(/ends after 512 tokens .* the model needs 32000/);
    });

    it('rejects a negative piece length', () => {
      const bad = Buffer.alloc(16);
      bad.writeInt32LE(7, 0);
      bad.writeFloatLE(0, 4);
      bad.writeInt32LE(-3, 8);
      expect(() => Tokenizer.read(write('negative.bin', bad), 1)).to.throw(/token 0 claims -3 bytes/);
    });

    it('rejects a non-positive vocabulary size', () => {
      expect(() => Tokenizer.read(modelPath('tok512.bin'), 0)).to.throw(/vocab_size must be positive/);
    });
  });
});

