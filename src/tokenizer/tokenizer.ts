/**
 * llama2.c's tokenizer: the `tokenizer.bin` vocabulary (pieces with merge scores), encoding and
 * decoding exactly as run.c's `encode` and `decode`, plus a streaming UTF-8 decoder that keeps
 * characters split over byte tokens (run.c drops them) for text output.
 *
 * File format: int32 max_token_length, then per token: float32 score, int32 length, the bytes.
 * The number of tokens is not stored: it is the model's vocab_size.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { UserError } from '../util/errors.js';

export const BOS = 1;
export const EOS = 2;

/** run.c compares pieces as C strings: a piece ends at its first NUL byte. */
function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return Buffer.from(nul === -1 ? bytes : bytes.subarray(0, nul)).toString('latin1');
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{1,2})/;

export class Tokenizer {
  private readonly ids = new Map<string, number>();
  private readonly keys: string[];

  private constructor(
    private readonly pieces: Uint8Array[],
    private readonly scores: Float32Array,
    readonly maxTokenLength: number,
  ) {
    this.keys = pieces.map(cString);
    // the first of equal pieces wins (the files we know have none)
    this.keys.forEach((key, id) => {
      if (!this.ids.has(key)) this.ids.set(key, id);
    });
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Reads `vocabSize` tokens from a tokenizer.bin (extra tokens in the file are ignored, as run.c does). */
  static read(path: string, vocabSize: number): Tokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize <= 0) {
      throw new UserError(`${path}: cannot read a tokenizer for a vocabulary of ${vocabSize} tokens; the model's vocab_size must be positive.`);
    }
    if (!existsSync(path)) throw new UserError(`${path}: no such tokenizer file. Pass the tokenizer.bin that goes with the model (-z).`);
    if (statSync(path).isDirectory()) throw new UserError(`${path}: is a directory, expected a tokenizer.bin file.`);
    const data = readFileSync(path);
    const where = `${path}: not a llama2.c tokenizer.bin for ${vocabSize} tokens`;
    if (data.length < 4) throw new UserError(`${where}: the file has ${data.length} bytes, less than its 4-byte header.`);
    const maxTokenLength = data.readInt32LE(0);
    if (maxTokenLength <= 0 || maxTokenLength > 1024) {
      throw new UserError(`${where}: max_token_length is ${maxTokenLength}, expected 1..1024. Is this a model checkpoint rather than a tokenizer?`);
    }
    const pieces: Uint8Array[] = [];
    const scores = new Float32Array(vocabSize);
    let pos = 4;
    for (let id = 0; id < vocabSize; id++) {
      if (pos + 8 > data.length) {
        throw new UserError(
          `${where}: it ends after ${id} tokens (at byte ${data.length}); the model needs ${vocabSize}. ` +
            'Use the tokenizer that was exported with this model (tok512.bin for stories260K, tokenizer.bin for the Llama 2 vocabulary).',
        );
      }
      scores[id] = data.readFloatLE(pos);
      const length = data.readInt32LE(pos + 4);
      pos += 8;
      if (length < 0 || length > maxTokenLength * 4 + 16) {
        throw new UserError(
          `${where}: token ${id} claims ${length} bytes (max_token_length is ${maxTokenLength}). Is this a model checkpoint rather than a tokenizer?`,
        );
      }
      if (pos + length > data.length) {
        throw new UserError(`${where}: token ${id} needs ${length} bytes at offset ${pos}, but the file ends at ${data.length} (truncated).`);
      }
      pieces.push(Uint8Array.from(data.subarray(pos, pos + length)));
      pos += length;
    }
    return new Tokenizer(pieces, scores, maxTokenLength);
  }

  static fromPieces(pieces: Uint8Array[], scores: Float32Array | number[], maxTokenLength?: number): Tokenizer {
    return new Tokenizer(pieces, Float32Array.from(scores), maxTokenLength ?? Math.max(1, ...pieces.map((p) => p.length)));
  }

  piece(id: number): Uint8Array {
    return this.pieces[id];
  }

  score(id: number): number {
    return this.scores[id];
  }

  /** The id of a piece given as bytes (compared as a C string), or -1. */
  lookup(bytes: Uint8Array | string): number {
    const key = typeof bytes === 'string' ? bytes : cString(bytes);
    return this.ids.get(key) ?? -1;
  }

  /**
   * run.c's `encode`: BOS, the dummy-prefix space for non-empty text, one token per UTF-8
   * codepoint (or its bytes as byte tokens, id = byte + 3), then repeatedly merge the adjacent pair
   * whose concatenation is the best-scoring piece (the leftmost on ties), and EOS.
   */
  encode(text: string | Uint8Array, bos: boolean, eos: boolean): number[] {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
    const end = bytes.indexOf(0) === -1 ? bytes.length : bytes.indexOf(0); // C stops at NUL
    const tokens: number[] = [];
    if (bos) tokens.push(BOS);
    if (end > 0) {
      const space = this.lookup(' ');
      if (space === -1) throw new UserError('this tokenizer has no " " piece, which encoding needs for the dummy prefix.');
      tokens.push(space);
    }
    let start = 0;
    for (let i = 0; i < end; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) start = i; // not a continuation byte: a new codepoint
      const length = i - start + 1;
      const next = i + 1 < end ? bytes[i + 1] : 0;
      if ((next & 0xc0) === 0x80 && length < 4) continue;
      const id = this.lookup(bytes.subarray(start, i + 1).toString('latin1'));
      if (id !== -1) tokens.push(id);
      else for (let j = start; j <= i; j++) tokens.push(bytes[j] + 3);
      start = i + 1;
    }
    this.merge(tokens);
    if (eos) tokens.push(EOS);
    return tokens;
  }

  /**
   * The merge loop of run.c, with each pair's best merge remembered and only the two pairs next
   * to a merge recomputed, so long prompts stay fast; the choice is run.c's (highest score,
   * leftmost first, nothing at or below -1e10).
   */
  private merge(tokens: number[]): void {
    const pairId: number[] = [];
    const pairScore: number[] = [];
    const evaluate = (i: number) => {
      const id = this.ids.get(this.keys[tokens[i]] + this.keys[tokens[i + 1]]) ?? -1;
      pairId[i] = id;
      pairScore[i] = id === -1 ? -Infinity : this.scores[id];
    };
    for (let i = 0; i < tokens.length - 1; i++) evaluate(i);
    for (;;) {
      let best = -1e10;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        if (pairId[i] !== -1 && pairScore[i] > best) {
          best = pairScore[i];
          bestIdx = i;
        }
      }
      if (bestIdx === -1) return;
      tokens[bestIdx] = pairId[bestIdx];
      tokens.splice(bestIdx + 1, 1);
      pairId.splice(bestIdx + 1, 1);
      pairScore.splice(bestIdx + 1, 1);
      if (bestIdx > 0) evaluate(bestIdx - 1);
      if (bestIdx < tokens.length - 1) evaluate(bestIdx);
      else {
        pairId.length = tokens.length - 1;
        pairScore.length = tokens.length - 1;
      }
    }
  }

  /** run.c's `decode`: the piece's bytes, without the leading space after BOS; "<0xAB>" is the byte 0xAB. */
  decode(prevToken: number, token: number): Uint8Array {
    let piece = this.pieces[token];
    if (prevToken === BOS && piece[0] === 0x20) piece = piece.subarray(1);
    const byte = BYTE_PIECE.exec(cString(piece));
    if (byte) return Uint8Array.of(parseInt(byte[1], 16));
    return piece;
  }

  /** What run.c's `safe_printf` prints for decode(prev, token): nothing for a lone unprintable byte. */
  printable(prevToken: number, token: number): Uint8Array {
    const piece = this.decode(prevToken, token);
    const nul = piece.indexOf(0);
    const text = nul === -1 ? piece : piece.subarray(0, nul);
    if (text.length === 1) {
      const b = text[0];
      const isprint = b >= 0x20 && b <= 0x7e;
      const isspace = b === 0x20 || (b >= 0x09 && b <= 0x0d);
      if (!isprint && !isspace) return new Uint8Array(0);
    }
    return text;
  }

  /** The text of a token sequence as generate prints it: ids[0] is fed first (BOS) and not printed; a later BOS ends it. */
  decodeText(ids: number[]): string {
    const decoder = new StreamingDecoder(this);
    let text = '';
    for (let i = 1; i < ids.length; i++) {
      if (ids[i] === BOS) break;
      text += decoder.push(ids[i - 1], ids[i]);
    }
    return text + decoder.flush();
  }
}

/**
 * Text as tokens arrive: bytes of a character split over byte tokens are held until the character
 * is complete, so multi-byte UTF-8 survives (run.c prints each byte alone and drops them).
 */
export class StreamingDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false });

  constructor(private readonly tokenizer: Tokenizer) {}

  push(prevToken: number, token: number): string {
    return this.utf8.decode(this.tokenizer.decode(prevToken, token), { stream: true });
  }

  /** Whatever is left; an incomplete character becomes U+FFFD. */
  flush(): string {
    return this.utf8.decode();
  }
}
