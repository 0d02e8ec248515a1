import { expect } from 'chai';
import fc from 'fast-check';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { realTokenizer, readGoldenIds } from '../helpers/fixtures.js';
import { requireNeeds, whyMissing } from '../helpers/needs.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
// read in the describes' before() hooks, once their files are known to be here
let tok512: Tokenizer;
let llama: Tokenizer;

/**
 * run.c's encode written as plainly as the C: rescan every pair after each merge. The oracle for
 * the fast merge in src/tokenizer/merge.ts.
 */
function plainEncode(t: Tokenizer, text: Uint8Array, bos: boolean, eos: boolean): number[] {
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  if (text.length > 0) tokens.push(t.lookup(' '));
  let buffer: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if ((text[i] & 0xc0) !== 0x80) buffer = [];
    buffer.push(text[i]);
    if (((text[i + 1] ?? 0) & 0xc0) === 0x80 && buffer.length < 4) continue;
    const id = t.lookup(Uint8Array.from(buffer));
    if (id !== -1) tokens.push(id);
    else tokens.push(...buffer.map((b) => b + 3));
    buffer = [];
  }
  for (;;) {
    let bestScore = Math.fround(-1e10);
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const joined = new Uint8Array([...t.piece(tokens[i]), ...t.piece(tokens[i + 1])]);
      const id = t.lookup(joined);
      if (id !== -1 && t.score(id) > bestScore) {
        bestScore = t.score(id);
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  if (eos) tokens.push(2);
  return tokens;
}

/** Specials, the 256 byte pieces, then `pieces` with `scores`: a vocabulary in llama2.c's layout. */
function vocabulary(pieces: string[], scores: number[]): Tokenizer {
  const all = ['<unk>', '\n<s>\n', '\n</s>\n'];
  for (let b = 0; b < 256; b++) all.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  return Tokenizer.fromPieces([...all, ...pieces].map(utf8), [...all.map(() => 0), ...scores]);
}

/** Text made of awkward parts: emoji sequences, CJK, combining marks, controls, spaces. */
const awkwardText = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
      fc.constantFrom(
        '👩‍👩‍👧',
        '🇯🇵',
        '日本語の',
        'e\u0301',
        'ñ',
        '\t',
        '\n',
        '\r\n',
        '\u0001',
        '\u007f',
        '\u0085',
        '\ufeff',
        ' ',
        '   ',
        'Once upon a time',
        ' the',
      ),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

describe('tokenizer: encode, as llama2.c run.c', () => {
  before(function () {
    requireNeeds(this, 'tok512.bin');
    tok512 = realTokenizer('tok512.bin');
  });
  beforeEach(function () {
    // the tests that use Llama 2's tokenizer.bin ask for it themselves
    if (!whyMissing('tokenizer.bin')) llama = realTokenizer('tokenizer.bin');
  });

  for (const [file, prompt] of [
    ['stories260K_f32_greedy_empty.ids', ''],
    ['stories260K_f32_greedy_once_upon_a_time.ids', 'Once upon a time'],
    ['stories260K_f32_t1.0_p0.9_s42_one_day.ids', 'One day'],
  ]) {
    it(`gives llama2.c's prompt ids for "${prompt}" (${file})`, () => {
      expect(tok512.encode(prompt, true, false)).to.deep.equal(readGoldenIds(file).prompt);
    });
  }

  it('adds BOS, the dummy-prefix " " (only for non-empty text) and EOS as asked', () => {
    const space = tok512.lookup(' ');
    expect(tok512.encode('', false, false)).to.deep.equal([]);
    expect(tok512.encode('', true, true)).to.deep.equal([1, 2]);
    expect(tok512.encode('x', false, false)[0]).to.not.equal(1);
    expect(tok512.encode(new Uint8Array(0), true, false)).to.deep.equal([1]);
    // "." has no merge with " " in tok512, so the dummy prefix stays a token of its own
    expect(tok512.lookup(' .')).to.equal(-1);
    expect(tok512.encode('.', true, true)).to.deep.equal([1, space, tok512.lookup('.'), 2]);
  });

  it('merges the best-scoring pair first (Llama 2 vocabulary)', function () {
    requireNeeds(this, 'tokenizer.bin');
    expect(llama.encode('Hello world', true, false)).to.deep.equal([1, 15043, 3186]); // " Hello", " world"
    expect(llama.encode('Hello world', false, true)).to.deep.equal([15043, 3186, 2]);
  });

  it('falls back to byte tokens (id = byte + 3) for characters without a piece', function () {
    requireNeeds(this, 'tokenizer.bin');
    expect(tok512.lookup('𝄞')).to.equal(-1);
    expect(tok512.encode('𝄞', false, false)).to.deep.equal([tok512.lookup(' '), 0xf0 + 3, 0x9d + 3, 0x84 + 3, 0x9e + 3]);
    // the Llama 2 vocabulary has some CJK characters as pieces and spells others in bytes
    const ids = llama.encode('日', false, false);
    expect(ids.map((id) => Buffer.from(llama.piece(id)).toString())).to.deep.equal([' ', '日']);
  });

  it('reads a character as at most 4 bytes, and stray continuation bytes on their own, as run.c', () => {
    const space = tok512.lookup(' ');
    // a lead byte with five continuation bytes: one lookup of the first 4 bytes, then 2 more
    expect(tok512.encode(Uint8Array.of(0xf0, 0x80, 0x80, 0x80, 0x80, 0x80), false, false)).to.deep.equal([
      space,
      0xf3,
      0x83,
      0x83,
      0x83,
      0x83,
      0x83,
    ]);
    expect(tok512.encode(Uint8Array.of(0x61, 0xff), false, false)).to.deep.equal(
      plainEncode(tok512, Uint8Array.of(0x61, 0xff), false, false),
    );
  });

  it('encodes a NUL inside the text as the byte token <0x00> (run.c would stop there)', () => {
    const ids = tok512.encode('a\0b', false, false);
    expect(ids).to.include(3);
    expect(tok512.decodeText(ids)).to.equal('a\0b');
  });

  it('encodes a lone surrogate as U+FFFD, as UTF-8 encoding does', () => {
    expect(tok512.encode('\ud800', false, false)).to.deep.equal(tok512.encode('\ufffd', false, false));
  });

  it('breaks ties between equal scores in favour of the leftmost pair', () => {
    const pieces = (t: Tokenizer, ids: number[]) => ids.map((id) => Buffer.from(t.piece(id)).toString());
    // "ab" and "bc" score the same: in "abc" the leftmost, "ab", is merged, and then nothing is left to merge
    const tie = vocabulary([' ', 'a', 'b', 'c', 'ab', 'bc'], [0, 0, 0, 0, -1, -1]);
    expect(pieces(tie, tie.encode('abc', false, false))).to.deep.equal([' ', 'ab', 'c']);
    // a strictly better score wins wherever it is
    const better = vocabulary([' ', 'a', 'b', 'c', 'ab', 'bc'], [0, 0, 0, 0, -1, -0.5]);
    expect(pieces(better, better.encode('abc', false, false))).to.deep.equal([' ', 'a', 'bc']);
    // ties between equal pieces far apart: the left one is merged first, which decides the rest
    const chain = vocabulary([' ', 'a', 'aa', 'aaa'], [0, 0, -1, -1]);
    expect(pieces(chain, chain.encode('aaaa', false, false))).to.deep.equal([' ', 'aaa', 'a']);
    for (const [t, s] of [
      [tie, 'abc'],
      [better, 'abc'],
      [chain, 'aaaa'],
    ] as const) {
      expect(t.encode(s, true, false)).to.deep.equal(plainEncode(t, utf8(s), true, false));
    }
  });

  it('never merges into a piece scored at or below -1e10, or NaN', () => {
    const t = vocabulary([' ', 'a', 'b', 'ab', ' a'], [0, 0, 0, Math.fround(-1e10), Number.NaN]);
    expect(t.encode('ab', false, false).map((id) => Buffer.from(t.piece(id)).toString())).to.deep.equal([' ', 'a', 'b']);
    const u = vocabulary([' ', 'a', 'b', 'ab'], [0, 0, 0, -9.9e9]);
    expect(u.encode('ab', false, false).map((id) => Buffer.from(u.piece(id)).toString())).to.deep.equal([' ', 'ab']);
  });

  it('equals the plain quadratic run.c loop on random text (both vocabularies)', function () {
    requireNeeds(this, 'tokenizer.bin');
    fc.assert(
      fc.property(awkwardText, fc.boolean(), fc.boolean(), (s, bos, eos) => {
        for (const t of [tok512, llama]) expect(t.encode(s, bos, eos)).to.deep.equal(plainEncode(t, utf8(s), bos, eos));
      }),
      { numRuns: 200 },
    );
  });

  it('equals the plain loop on small vocabularies full of ties', () => {
    const alphabet = fc.constantFrom('a', 'b', ' ');
    const piece = fc.array(alphabet, { minLength: 2, maxLength: 4 }).map((cs) => cs.join(''));
    const vocab = fc.uniqueArray(fc.tuple(piece, fc.constantFrom(0, -1, -2, -1e11)), { maxLength: 20, selector: ([p]) => p });
    const text = fc.array(alphabet, { maxLength: 30 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(vocab, text, (entries, s) => {
        const t = vocabulary(
          [' ', 'a', 'b', ...entries.map(([p]) => p).filter((p) => p !== ' ')],
          [0, 0, 0, ...entries.filter(([p]) => p !== ' ').map(([, score]) => score)],
        );
        expect(t.encode(s, true, false)).to.deep.equal(plainEncode(t, utf8(s), true, false));
      }),
      { numRuns: 500 },
    );
  });

  it('needs the " " piece and byte pieces for what it encodes, and says so', () => {
    const noSpace = Tokenizer.fromPieces(['<unk>', '<s>', '</s>', 'a'].map(utf8), [0, 0, 0, 0]);
    expect(() => noSpace.encode('a', true, false)).to.throw(/no " " piece/);
    const noBytes = Tokenizer.fromPieces(['<unk>', '<s>', '</s>', ' ', 'a'].map(utf8), [0, 0, 0, 0, 0]);
    expect(noBytes.encode('a', true, false)).to.deep.equal([1, 3, 4]);
    expect(() => noBytes.encode('é', true, false)).to.throw(
      /no byte token for 0xC3 \(it would be id 198, but the vocabulary has 5 tokens\)/,
    );
  });

  it('looks pieces up as C strings: a piece ends at its first NUL', () => {
    const t = Tokenizer.fromPieces(['<unk>', '<s>', '</s>', ' ', 'a\0zz'].map(utf8), [0, 0, 0, 0, 0]);
    expect(t.lookup('a')).to.equal(4);
    expect(t.encode('a', false, false)).to.deep.equal([3, 4]);
    expect(Array.from(t.decode(3, 4))).to.deep.equal([0x61]);
  });

  it('finds the duplicate piece glibc bsearch finds over a stable sort', () => {
    const lookupX = (pieces: string[]) =>
      Tokenizer.fromPieces(
        pieces.map(utf8),
        pieces.map(() => 0),
      ).lookup('x');
    // sorted x(0) x(1) x(2): the first probe, the middle, matches: id 1
    expect(lookupX(['x', 'x', 'x'])).to.equal(1);
    // sorted </s> <s> <unk> x(3) x(4): probe 2 (<unk>, too small), then 4: id 4
    expect(lookupX(['<unk>', '<s>', '</s>', 'x', 'x'])).to.equal(4);
    // sorted </s> <s> <unk> x(3) x(4) x(5): probe 3: id 3
    expect(lookupX(['<unk>', '<s>', '</s>', 'x', 'x', 'x'])).to.equal(3);
  });

  it('the shipped vocabularies have no duplicate pieces', function () {
    requireNeeds(this, 'tokenizer.bin');
    for (const t of [tok512, llama]) {
      const seen = new Set<string>();
      for (let id = 0; id < t.vocabSize; id++) seen.add(Buffer.from(t.piece(id)).toString('latin1'));
      expect(seen.size).to.equal(t.vocabSize);
    }
  });

  // speed belongs in benchmarks, not in tests: a timed assertion failed on a loaded 2-core CI box
  it("encodes a long prompt (run.c's loop is quadratic; ours is not) and gets run.c's answer", function () {
    requireNeeds(this, 'tokenizer.bin');
    const text = 'Once upon a time, there was a little girl named Lily. She liked 日本 and 🐶. '.repeat(60); // ~4,600 characters
    for (const t of [tok512, llama]) {
      const ids = t.encode(text, true, false);
      expect(t.decodeText(ids)).to.equal(text);
    }
    // and still run.c's answer
    const short = text.slice(0, 300);
    expect(tok512.encode(short, true, false)).to.deep.equal(plainEncode(tok512, utf8(short), true, false));
  });
});
