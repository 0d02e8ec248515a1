import { expect } from 'chai';
import { bytePieceValue } from '../../src/tokenizer/byte-piece.js';
import { StreamingDecoder, Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { realTokenizer, readGoldenFile, readGoldenIds } from '../helpers/fixtures.js';
import { requireNeeds, whyMissing } from '../helpers/needs.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
// read in the describes' before() hooks, once their files are known to be here
let tok512: Tokenizer;
let llama: Tokenizer;
const byteToken = (b: number) => b + 3;
const SOME_TOKEN = 300; // any token that is not BOS, to decode "in the middle of a text"

/** What run.c's generate prints for a token sequence: safe_printf(decode(prev, next)) until BOS, then "\n". */
function runcOutput(t: Tokenizer, ids: number[]): string {
  const parts: Uint8Array[] = [];
  for (let i = 1; i < ids.length && ids[i] !== 1; i++) parts.push(t.printable(ids[i - 1], ids[i]));
  return `${Buffer.concat(parts).toString('utf8')}\n`;
}

describe('tokenizer: decode, as llama2.c run.c', () => {
  before(function () {
    requireNeeds(this, 'tok512.bin');
    tok512 = realTokenizer('tok512.bin');
  });
  beforeEach(function () {
    // the tests that use Llama 2's tokenizer.bin ask for it themselves
    if (!whyMissing('tokenizer.bin')) llama = realTokenizer('tokenizer.bin');
  });

  it('drops the leading space of a piece right after BOS, and only there', function () {
    requireNeeds(this, 'tokenizer.bin');
    const space = tok512.lookup(' ');
    expect(text(tok512.decode(1, space))).to.equal('');
    expect(text(tok512.decode(SOME_TOKEN, space))).to.equal(' ');
    expect(text(tok512.decode(1, 403))).to.equal('Once'); // " Once"
    expect(text(tok512.decode(2, 403))).to.equal(' Once'); // after EOS: kept
    expect(text(llama.decode(1, 259))).to.equal(' '); // "  ": one space only
    expect(text(llama.decode(1, 15043))).to.equal('Hello');
  });

  it('turns byte pieces "<0xAB>" into the byte', function () {
    requireNeeds(this, 'tokenizer.bin');
    expect(Array.from(tok512.decode(SOME_TOKEN, byteToken(0x0a)))).to.deep.equal([0x0a]);
    expect(Array.from(tok512.decode(1, byteToken(0xe2)))).to.deep.equal([0xe2]);
    expect(Array.from(llama.decode(SOME_TOKEN, byteToken(0xff)))).to.deep.equal([0xff]);
    // "<0x00>": run.c's C string is empty; we give the byte (printable() gives run.c's nothing)
    expect(Array.from(tok512.decode(SOME_TOKEN, byteToken(0)))).to.deep.equal([0]);
  });

  it('recognises byte pieces the way sscanf("<0x%02hhX>") does', () => {
    const value = (s: string) => bytePieceValue(utf8(s));
    expect(value('<0x41>')).to.equal(0x41);
    expect(value('<0xff>')).to.equal(0xff);
    expect(value('<0x4>')).to.equal(4);
    expect(value('<0x41')).to.equal(0x41); // the closing '>' is never checked
    expect(value('<0x123>')).to.equal(0x12); // width 2
    expect(value('<0x 7>')).to.equal(7); // blanks skipped before the number
    expect(value('<0x-1>')).to.equal(0xff); // a sign counts in the width; stored as unsigned char
    expect(value('<0x>')).to.equal(undefined);
    expect(value('<0xZZ>')).to.equal(undefined);
    expect(value('<0X41>')).to.equal(undefined); // the literal is "<0x"
    expect(value('<unk>')).to.equal(undefined);
    // and in decode, after the BOS space strip, as run.c
    const t = Tokenizer.fromPieces(['<unk>', '<s>', '</s>', ' ', ' <0x41>'].map(utf8), [0, 0, 0, 0, 0]);
    expect(text(t.decode(1, 4))).to.equal('A');
    expect(text(t.decode(3, 4))).to.equal(' <0x41>');
  });

  it('printable() is what safe_printf prints: nothing for a lone byte that is neither isprint nor isspace', function () {
    requireNeeds(this, 'tokenizer.bin');
    const printed = (prev: number, id: number) => Array.from(tok512.printable(prev, id));
    expect(printed(SOME_TOKEN, byteToken(0xe2))).to.deep.equal([]);
    expect(printed(SOME_TOKEN, byteToken(0x7f))).to.deep.equal([]);
    expect(printed(SOME_TOKEN, byteToken(0x01))).to.deep.equal([]);
    expect(printed(SOME_TOKEN, byteToken(0x00))).to.deep.equal([]);
    for (const b of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x41, 0x7e]) expect(printed(SOME_TOKEN, byteToken(b))).to.deep.equal([b]);
    expect(printed(1, tok512.lookup(' '))).to.deep.equal([]); // empty after the BOS strip
    expect(text(tok512.printable(SOME_TOKEN, 403))).to.equal(' Once');
    // a multi-byte piece is printed even though no byte of it is isprint in the C locale
    const id = llama.lookup('日');
    expect(id).to.be.above(258);
    expect(Buffer.from(llama.printable(SOME_TOKEN, id)).toString()).to.equal('日');
  });

  for (const file of [
    'stories260K_f32_greedy_empty',
    'stories260K_f32_greedy_once_upon_a_time',
    'stories260K_f32_t1.0_p0.9_s42_one_day',
    'stories260K_q8gs4_greedy_empty',
    'stories260K_q8gs4_greedy_once_upon_a_time',
  ]) {
    it(`prints what llama2.c printed for ${file}`, () => {
      const golden = readGoldenIds(`${file}.ids`);
      const ids = [...golden.prompt, ...golden.generated];
      const printed = readGoldenFile(`${file}.txt`);
      expect(runcOutput(tok512, ids)).to.equal(printed);
      expect(`${tok512.decodeText(ids)}\n`).to.equal(printed); // plain ASCII: the streaming decoder agrees
    });
  }
});

describe('tokenizer: the streaming decoder', () => {
  before(function () {
    requireNeeds(this, 'tok512.bin');
    tok512 = realTokenizer('tok512.bin');
  });
  beforeEach(function () {
    // the tests that use Llama 2's tokenizer.bin ask for it themselves
    if (!whyMissing('tokenizer.bin')) llama = realTokenizer('tokenizer.bin');
  });

  const pushAll = (t: Tokenizer, ids: number[]) => {
    const decoder = new StreamingDecoder(t);
    const pieces: string[] = [];
    for (let i = 1; i < ids.length; i++) pieces.push(decoder.push(ids[i - 1], ids[i]));
    return { pieces, rest: decoder.flush() };
  };

  it('assembles a character split across byte tokens, which run.c drops', () => {
    const ids = tok512.encode('a 𝄞 b', true, false);
    expect(ids.filter((id) => id >= 3 && id <= 258)).to.deep.equal([0xf0, 0x9d, 0x84, 0x9e].map(byteToken));
    const { pieces, rest } = pushAll(tok512, ids);
    expect(pieces.join('') + rest).to.equal('a 𝄞 b');
    expect(pieces).to.include.members(['', '𝄞']); // held back, then the whole character
    const printed = Buffer.concat(ids.slice(1).map((id, i) => tok512.printable(ids[i], id))).toString('utf8');
    expect(printed).to.equal('a  b');
  });

  it('holds back an incomplete character and gives U+FFFD for it at the end', () => {
    const decoder = new StreamingDecoder(tok512);
    expect(decoder.push(SOME_TOKEN, byteToken(0xe2))).to.equal('');
    expect(decoder.push(byteToken(0xe2), byteToken(0x82))).to.equal('');
    expect(decoder.flush()).to.equal('\ufffd');
    // flushed: the decoder starts afresh
    expect(decoder.push(SOME_TOKEN, 403)).to.equal(' Once');
  });

  it('gives U+FFFD for bytes that cannot start or continue a character, and goes on', () => {
    const ids = [1, byteToken(0x80), byteToken(0xff), tok512.lookup('a')];
    const { pieces, rest } = pushAll(tok512, ids);
    expect(pieces.join('') + rest).to.equal('\ufffd\ufffda');
  });

  it('keeps a U+FEFF at the start (it is text, not a byte order mark)', function () {
    requireNeeds(this, 'tokenizer.bin');
    expect(llama.decodeText(llama.encode('\ufeffhi', true, false))).to.equal('\ufeffhi');
  });

  it('decodeText: BOS at the start is not shown, a later BOS ends the text, no BOS reads as if after one', () => {
    const ids = tok512.encode('Once upon a time', true, false);
    expect(tok512.decodeText(ids)).to.equal('Once upon a time');
    expect(tok512.decodeText(ids.slice(1))).to.equal('Once upon a time');
    expect(tok512.decodeText([...ids, 1, 403])).to.equal('Once upon a time');
    expect(tok512.decodeText([...ids, 2])).to.equal('Once upon a time\n</s>\n'); // run.c prints EOS's piece
    expect(tok512.decodeText([])).to.equal('');
    expect(tok512.decodeText([1])).to.equal('');
  });
});
