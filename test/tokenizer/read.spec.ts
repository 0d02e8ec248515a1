import { expect } from 'chai';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { parseVocab, serializeVocab } from '../../src/tokenizer/vocab-file.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { userError } from '../helpers/errors.js';
import { requireNeeds } from '../helpers/needs.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A tokenizer file's bytes built field by field, for damaged files. */
function fileOf(maxTokenLength: number, tokens: { score?: number; length?: number; bytes: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(4);
  header.writeInt32LE(maxTokenLength, 0);
  parts.push(header);
  for (const t of tokens) {
    const fields = Buffer.alloc(8);
    fields.writeFloatLE(t.score ?? 0, 0);
    fields.writeInt32LE(t.length ?? t.bytes.length, 4);
    parts.push(fields, Buffer.from(t.bytes));
  }
  return Buffer.concat(parts);
}

/** The UserError `fn` throws (fails if it throws anything else). */

describe('tokenizer: reading tokenizer.bin', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let n = 0;
  const write = (bytes: Uint8Array): string => {
    const path = join(tmp.dir, `tok${n++}.bin`);
    writeFileSync(path, bytes);
    return path;
  };

  it('reads tok512.bin: 512 tokens, max_token_length 7, specials, byte pieces, merges', function () {
    requireNeeds(this, 'tok512.bin');
    const t = Tokenizer.read(modelPath('tok512.bin'), 512);
    expect(t.vocabSize).to.equal(512);
    expect(t.maxTokenLength).to.equal(7);
    expect(Buffer.from(t.piece(0)).toString()).to.equal('<unk>');
    expect(Buffer.from(t.piece(1)).toString()).to.equal('\n<s>\n');
    expect(Buffer.from(t.piece(2)).toString()).to.equal('\n</s>\n');
    expect(Buffer.from(t.piece(3)).toString()).to.equal('<0x00>');
    expect(Buffer.from(t.piece(258)).toString()).to.equal('<0xFF>');
    expect(Buffer.from(t.piece(259)).toString()).to.equal(' t');
    expect(t.score(259)).to.equal(0);
    expect(t.score(260)).to.equal(-1);
  });

  it('reads tokenizer.bin: 32000 tokens, max_token_length 27', function () {
    requireNeeds(this, 'tokenizer.bin');
    const t = Tokenizer.read(modelPath('tokenizer.bin'), 32000);
    expect(t.vocabSize).to.equal(32000);
    expect(t.maxTokenLength).to.equal(27);
    expect(Buffer.from(t.piece(3186)).toString()).to.equal(' world');
    expect(t.lookup(' world')).to.equal(3186);
  });

  it("writes back byte for byte what it reads (serializeVocab is parseVocab's inverse)", function () {
    requireNeeds(this, 'tok512.bin', 'tokenizer.bin');
    for (const [name, size] of [
      ['tok512.bin', 512],
      ['tokenizer.bin', 32000],
    ] as const) {
      const bytes = readFileSync(modelPath(name));
      const vocab = parseVocab(bytes, size, name);
      expect(Buffer.from(serializeVocab(vocab.pieces, vocab.scores, vocab.maxTokenLength)).equals(bytes)).to.equal(true);
    }
  });

  it('refuses a file with more tokens than the model needs, naming both files (run.c would read the first ones: garbage)', function () {
    requireNeeds(this, 'tokenizer.bin');
    const err = userError(() => Tokenizer.read(modelPath('tokenizer.bin'), 512, { model: 'stories260K-mixed.bin' }));
    expect(err.message).to.contain("tokenizer.bin: the file holds 32000 pieces, but the model stories260K-mixed.bin's vocab_size is 512");
  });

  it('refuses a tokenizer without the " " piece that encoding starts with, when it is read', () => {
    const err = userError(() => Tokenizer.read(write(fileOf(3, [{ bytes: utf8('a') }, { bytes: utf8('b') }])), 2));
    expect(err.message).to.match(/has no " " piece, which encoding needs/);
  });

  it('rejects a vocab_size that is not a positive integer', function () {
    requireNeeds(this, 'tok512.bin');
    for (const size of [0, -512, 1.5, Number.NaN]) {
      expect(userError(() => Tokenizer.read(modelPath('tok512.bin'), size)).message).to.match(/vocab_size .* must be a positive integer/);
    }
  });

  it('says a missing file is missing and what to pass instead', () => {
    const err = userError(() => Tokenizer.read(join(tmp.dir, 'nope.bin'), 512));
    expect(err.message).to.match(/nope\.bin: no such tokenizer file.*--tokenizer/);
  });

  it('says a directory is not a tokenizer file', () => {
    const dir = join(tmp.dir, 'a-directory');
    mkdirSync(dir);
    expect(userError(() => Tokenizer.read(dir, 512)).message).to.match(/a-directory: is a directory/);
  });

  it('rejects a file too short for its header', () => {
    const err = userError(() => Tokenizer.read(write(Buffer.from([7, 0])), 512));
    expect(err.message).to.match(/the file is 2 bytes, too short for the 4-byte max_token_length/);
  });

  it('rejects an absurd max_token_length (a v1/v2 checkpoint starts with the magic "ak42")', () => {
    expect(userError(() => Tokenizer.read(write(fileOf(0, [])), 1)).message).to.match(/max_token_length is 0, expected 1\.\.4096/);
    expect(userError(() => Tokenizer.read(write(fileOf(-1, [])), 1)).message).to.match(/max_token_length is -1/);
    expect(userError(() => Tokenizer.read(write(Buffer.from('ak42' + '\0'.repeat(252), 'latin1')), 512)).message).to.match(
      /max_token_length is 842296161.*not a llama2\.c tokenizer\.bin/,
    );
  });

  it('rejects a model checkpoint passed as the tokenizer, naming the token where it stops making sense', function () {
    requireNeeds(this, 'stories260K.bin');
    const err = userError(() => Tokenizer.read(modelPath('stories260K.bin'), 512));
    expect(err.message).to.match(/stories260K\.bin: token \d+ .*model checkpoint, perhaps\?/);
  });

  it('says how many tokens the file has when it holds fewer than the model needs', function () {
    requireNeeds(this, 'tok512.bin');
    const err = userError(() => Tokenizer.read(modelPath('tok512.bin'), 32000));
    expect(err.message).to.match(/holds 512 pieces, but the model's vocab_size is 32000.*does not belong to the model/);
  });

  it('names the token, the expected and the found bytes of a file cut inside a piece', () => {
    const file = fileOf(7, [{ bytes: utf8('ab') }, { bytes: utf8('cdefg') }]);
    const cut = file.subarray(0, file.length - 2); // 3 of token 1's 5 bytes are left
    const err = userError(() => Tokenizer.read(write(cut), 2));
    expect(err.message).to.match(/token 1 is truncated: expected 5 bytes at offset 22, found 3/);
  });

  it('names the token of a file cut inside a score or length field', () => {
    const file = fileOf(7, [{ bytes: utf8('ab') }, { bytes: utf8('c') }]);
    const err = userError(() => Tokenizer.read(write(file.subarray(0, 4 + 10 + 5)), 2));
    expect(err.message).to.match(/token 1 is truncated at offset 14: expected 8 bytes \(float32 score, int32 length\), found 5/);
  });

  it('rejects a negative piece length', () => {
    const err = userError(() => Tokenizer.read(write(fileOf(7, [{ length: -3, bytes: new Uint8Array(0) }])), 1));
    expect(err.message).to.match(/token 0 has a negative length \(-3\) at offset 8/);
  });

  it("rejects a piece longer than max_token_length (run.c's merge buffer would overflow)", () => {
    const err = userError(() => Tokenizer.read(write(fileOf(3, [{ bytes: utf8('a') }, { bytes: utf8('abcd') }])), 2));
    expect(err.message).to.match(/token 1 is 4 bytes long \(offset 17\), more than the file's max_token_length of 3/);
  });

  it('rejects bytes after the tokens that are not whole tokens', () => {
    const file = Buffer.concat([fileOf(7, [{ bytes: utf8('a') }, { bytes: utf8('b') }]), Buffer.from([1, 2, 3])]);
    const err = userError(() => Tokenizer.read(write(file), 2));
    expect(err.message).to.match(/after the 2 tokens the model needs and 0 more, 3 bytes remain that are not a whole token/);
    const longer = Buffer.concat([fileOf(7, [{ bytes: utf8('a') }, { bytes: utf8('b') }, { bytes: utf8('c') }]), Buffer.from([9])]);
    expect(userError(() => Tokenizer.read(write(longer), 2)).message).to.match(/and 1 more, 1 bytes remain/);
  });

  it('keeps scores as float32 and pieces as raw bytes', () => {
    const path = write(fileOf(4, [{ score: -1.1, bytes: Uint8Array.of(0xe2, 0x96, 0x81) }, { bytes: utf8(' ') }]));
    const t = Tokenizer.read(path, 2);
    expect(t.score(0)).to.equal(Math.fround(-1.1));
    expect(Array.from(t.piece(0))).to.deep.equal([0xe2, 0x96, 0x81]);
  });

  it('rejects token ids outside the vocabulary with a UserError', function () {
    requireNeeds(this, 'tok512.bin');
    const t = Tokenizer.read(modelPath('tok512.bin'), 512);
    expect(userError(() => t.piece(512)).message).to.match(/Token id 512 is outside the vocabulary \(0\.\.511\)/);
    expect(userError(() => t.decode(1, -1)).message).to.match(/Token id -1/);
  });
});
