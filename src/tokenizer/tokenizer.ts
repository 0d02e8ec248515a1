/**
 * llama2.c's tokenizer: the vocabulary of a tokenizer.bin (vocab-file.ts), text to ids exactly as
 * run.c's `encode` (encode.ts, merge.ts), ids to bytes exactly as run.c's `decode`, what run.c's
 * `safe_printf` prints, and text for display through the streaming decoder
 * (streaming-decoder.ts), which keeps the characters run.c drops. See doc/tokenizer.md.
 */
import { UserError } from '../util/errors.js';
import { bytePieceValue, isPrintC, isSpaceC } from './byte-piece.js';
import { BOS, encodeBytes, type EncodeVocab } from './encode.js';
import { PieceIndex, pieceKey } from './piece-index.js';
import { StreamingDecoder } from './streaming-decoder.js';
import { readVocabFile, type VocabOwner } from './vocab-file.js';

export { BOS, EOS, BYTE_TOKEN_OFFSET } from './encode.js';
export { StreamingDecoder } from './streaming-decoder.js';

const SPACE_BYTE = 0x20;

/**
 * A llama2.c tokenizer: the pieces and merge scores of a tokenizer.bin, made by `read` (a file) or
 * `fromPieces`. Encodes and decodes exactly as run.c does (see above).
 */
export class Tokenizer {
  readonly vocabSize: number;
  /** The longest piece in bytes, as the file says. */
  readonly maxTokenLength: number;
  /** What encoding needs: C-string keys, scores, the lookup. */
  private readonly vocab: EncodeVocab;
  /** Each piece as run.c sees it: up to its first NUL. */
  private readonly cPieces: Uint8Array[];

  private constructor(
    private readonly pieces: readonly Uint8Array[],
    private readonly scores: Float32Array,
    maxTokenLength: number,
  ) {
    this.vocabSize = pieces.length;
    this.maxTokenLength = maxTokenLength;
    const keys = pieces.map(pieceKey);
    this.cPieces = pieces.map((p, id) => p.subarray(0, keys[id].length));
    this.vocab = { vocabSize: pieces.length, keys, scores, index: new PieceIndex(keys) };
  }

  /**
   * Reads a tokenizer.bin of exactly `vocabSize` tokens (the model's vocab_size; `owner.model`
   * names the model in messages). Throws a UserError saying what is wrong with a missing,
   * truncated, malformed or mismatched file.
   */
  static read(path: string, vocabSize: number, owner: VocabOwner = {}): Tokenizer {
    const vocab = readVocabFile(path, vocabSize, owner);
    const tokenizer = new Tokenizer(vocab.pieces, vocab.scores, vocab.maxTokenLength);
    // checked here, for every command and target, not when the first prompt is encoded
    if (tokenizer.lookup(' ') === -1) {
      throw new UserError(
        `${path}: the tokenizer has no " " piece, which encoding needs (run.c starts every non-empty text with it). It is not a llama2.c tokenizer for this model: pass the one exported with it.`,
      );
    }
    return tokenizer;
  }

  /** A tokenizer from pieces and scores in id order (tests, synthetic vocabularies). */
  static fromPieces(pieces: Uint8Array[], scores: Float32Array | number[], maxTokenLength?: number): Tokenizer {
    if (pieces.length === 0) throw new Error('Tokenizer.fromPieces: no pieces');
    if (scores.length !== pieces.length) {
      throw new Error(`Tokenizer.fromPieces: ${pieces.length} pieces but ${scores.length} scores`);
    }
    const longest = Math.max(...pieces.map((p) => p.length));
    const max = maxTokenLength ?? Math.max(1, longest);
    if (longest > max) throw new Error(`Tokenizer.fromPieces: a piece is ${longest} bytes, more than maxTokenLength ${max}`);
    return new Tokenizer(
      pieces.map((p) => Uint8Array.from(p)),
      Float32Array.from(scores),
      max,
    );
  }

  /** The bytes of token `id` as stored in the file. */
  piece(id: number): Uint8Array {
    this.checkId(id);
    return this.pieces[id].slice();
  }

  /** The merge score of token `id` (a float32). */
  score(id: number): number {
    this.checkId(id);
    return this.scores[id];
  }

  /** The id of the piece with exactly this text (a string is taken as UTF-8), or -1. */
  lookup(piece: string | Uint8Array): number {
    const bytes = typeof piece === 'string' ? new TextEncoder().encode(piece) : piece;
    if (bytes.includes(0)) return -1;
    return this.vocab.index.find(pieceKey(bytes));
  }

  /**
   * run.c's `encode`: token ids for `text` (a string is encoded as UTF-8), with BOS (1) first
   * and EOS (2) last if asked. See encode.ts.
   */
  encode(text: string | Uint8Array, bos: boolean, eos: boolean): number[] {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    return encodeBytes(bytes, bos, eos, this.vocab);
  }

  /**
   * run.c's `decode`: the bytes of `token` when it follows `prevToken`. Right after BOS a
   * leading space is dropped (SentencePiece's dummy prefix); a byte piece "<0xAB>" is the byte
   * 0xAB. One difference: for "<0x00>" run.c's C string is empty, here it is the byte 0 (so that
   * a NUL survives a round trip; `printable` gives what run.c prints).
   */
  decode(prevToken: number, token: number): Uint8Array {
    this.checkId(token);
    let piece = this.cPieces[token];
    if (prevToken === BOS && piece[0] === SPACE_BYTE) piece = piece.subarray(1);
    const byte = bytePieceValue(piece);
    return byte === undefined ? piece.slice() : Uint8Array.of(byte);
  }

  /**
   * What run.c prints for `decode(prevToken, token)` through `safe_printf`: nothing for an empty
   * piece or for a piece that is one byte neither printable nor a space in the C locale (so the
   * byte tokens of a multi-byte character all vanish), else the piece.
   */
  printable(prevToken: number, token: number): Uint8Array {
    const piece = this.decode(prevToken, token);
    const nul = piece.indexOf(0);
    const text = nul === -1 ? piece : piece.subarray(0, nul);
    if (text.length === 1 && !isPrintC(text[0]) && !isSpaceC(text[0])) return new Uint8Array(0);
    return text;
  }

  /**
   * The text of a sequence, as run.c's `generate` would show it but through the streaming
   * decoder: a BOS at the start is not shown (the first token after it loses its leading space),
   * a later BOS ends the text (run.c stops when it samples BOS), and a sequence without a
   * leading BOS is read as if it had one.
   */
  decodeText(ids: readonly number[]): string {
    const decoder = new StreamingDecoder(this);
    let text = '';
    let prev = BOS;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === BOS) {
        if (i === 0) continue;
        break;
      }
      text += decoder.push(prev, ids[i]);
      prev = ids[i];
    }
    return text + decoder.flush();
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new UserError(`Token id ${id} is outside the vocabulary (0..${this.vocabSize - 1}): wrong tokenizer for this model?`);
    }
  }
}
