import { expect } from 'chai';
import fc from 'fast-check';
import { StreamingDecoder } from '../../src/tokenizer/tokenizer.js';
import { realTokenizer } from '../helpers/fixtures.js';
import { requireNeeds } from '../helpers/needs.js';

const names = ['tok512.bin', 'tokenizer.bin'] as const;

/** Unicode text with the hard parts: ZWJ emoji, flags, CJK, combining marks, controls, NUL, BOM, spaces. */
const unicodeText = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 10 }),
      fc.string({ unit: 'grapheme-composite', maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 10 }),
      fc.string({ unit: 'binary-ascii', maxLength: 10 }),
      fc.constantFrom(
        '👩‍👩‍👧',
        '🇯🇵',
        '🐶',
        '日本語のテキスト',
        '한국어',
        'e\u0301\u0327',
        '\u0000',
        '\t',
        '\n',
        '\r\n',
        '\u0007',
        '\u007f',
        '\u0085',
        '\ufeff',
        '\u200b',
        ' ',
        '  ',
        'Once upon a time',
      ),
    ),
    { maxLength: 10 },
  )
  .map((parts) => parts.join(''));

describe('tokenizer: round trips (property tests)', () => {
  for (const name of names) {
    it(`decode() of encode(s) gives back the exact UTF-8 bytes of s (${name})`, function () {
      requireNeeds(this, name);
      const t = realTokenizer(name);
      fc.assert(
        fc.property(unicodeText, (s) => {
          const ids = t.encode(s, true, false);
          const bytes: Uint8Array[] = [];
          for (let i = 1; i < ids.length; i++) bytes.push(t.decode(ids[i - 1], ids[i])); // skip BOS; the dummy space goes with it
          expect(Buffer.concat(bytes).equals(Buffer.from(s, 'utf8'))).to.equal(true, JSON.stringify(s));
        }),
        { numRuns: 400 },
      );
    });

    it(`the streaming decoder gives back s, with or without BOS (${name})`, function () {
      requireNeeds(this, name);
      const t = realTokenizer(name);
      fc.assert(
        fc.property(unicodeText, (s) => {
          const ids = t.encode(s, true, false);
          const decoder = new StreamingDecoder(t);
          let out = '';
          for (let i = 1; i < ids.length; i++) out += decoder.push(ids[i - 1], ids[i]);
          expect(out + decoder.flush()).to.equal(s);
          expect(t.decodeText(ids)).to.equal(s);
          expect(t.decodeText(t.encode(s, false, false))).to.equal(s);
        }),
        { numRuns: 400 },
      );
    });

    it(`printable() drops exactly the lone unprintable bytes of decode() (${name})`, function () {
      requireNeeds(this, name);
      const t = realTokenizer(name);
      fc.assert(
        fc.property(unicodeText, (s) => {
          const ids = t.encode(s, true, false);
          for (let i = 1; i < ids.length; i++) {
            const decoded = t.decode(ids[i - 1], ids[i]);
            const printed = t.printable(ids[i - 1], ids[i]);
            const unprintableByte =
              decoded.length === 1 && !(decoded[0] >= 0x20 && decoded[0] <= 0x7e) && !(decoded[0] >= 0x09 && decoded[0] <= 0x0d);
            expect(Array.from(printed)).to.deep.equal(unprintableByte ? [] : Array.from(decoded));
          }
        }),
        { numRuns: 200 },
      );
    });
  }

  it('round trips a few hand-picked hard strings in both vocabularies', function () {
    requireNeeds(this, ...names);
    const tokenizers = names.map((name) => [name, realTokenizer(name)] as const);
    const samples = [
      '👩‍👩‍👧 family',
      '日本語のテキスト',
      'e\u0301 combining',
      'tab\tnew\nline\r',
      '\u0001\u007f',
      ' leading space',
      '  two',
      'trailing ',
      '<0x41>',
      '\n<s>\n',
    ];
    for (const [, t] of tokenizers) for (const s of samples) expect(t.decodeText(t.encode(s, true, false))).to.equal(s);
  });
});
