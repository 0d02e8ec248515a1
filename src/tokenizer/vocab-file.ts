/**
 * The tokenizer.bin format of llama2.c (written by its `tokenizer.py`, read by `run.c`'s
 * `build_tokenizer`), all little-endian:
 *
 *   int32 max_token_length
 *   per token: float32 score, int32 byte length, the bytes (no terminator)
 *
 * The number of tokens is not stored: it is the model's vocab_size. run.c reads the first
 * vocab_size tokens and ignores the rest; we refuse a file with more, as with fewer: a 32,000-piece
 * tokenizer.bin given for a 512-token model reads "fine" and produces garbage.
 */
import { readFileSync, statSync } from 'node:fs';
import { describeError, UserError } from '../util/errors.js';
import { describeFileKind } from '../util/paths.js';

/** What a tokenizer file holds, as read. */
export interface Vocab {
  maxTokenLength: number;
  pieces: Uint8Array[];
  scores: Float32Array;
}

/** Who the tokenizer is read for, named in messages: the model file, or a device. */
export interface VocabOwner {
  /** `stories260K.bin`, `the device's model`. */
  model?: string;
}

/** max_token_length above this is not a tokenizer (SentencePiece pieces are a few dozen bytes). */
export const MAX_PLAUSIBLE_TOKEN_LENGTH = 4096;

const NOT_A_TOKENIZER_HINT =
  'The file is damaged or is not a llama2.c tokenizer.bin (a model checkpoint, perhaps?); ' +
  'pass the tokenizer that goes with the model (tok512.bin for stories260K, tokenizer.bin for the Llama 2 vocabulary).';

/** Reads and checks a tokenizer file for a model whose vocab_size is `vocabSize`. */
export function readVocabFile(path: string, vocabSize: number, owner: VocabOwner = {}): Vocab {
  checkVocabSize(path, vocabSize);
  let data: Buffer;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) throw new UserError(`${path}: is a directory, expected a llama2.c tokenizer.bin file.`);
    // a FIFO would block forever and /dev/zero never ends: only regular files are read
    if (!stats.isFile()) throw new UserError(`${path}: is ${describeFileKind(stats)}, expected a llama2.c tokenizer.bin (a regular file).`);
    data = readFileSync(path);
  } catch (err) {
    if (err instanceof UserError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(`${path}: no such tokenizer file. Pass the tokenizer.bin that goes with the model (--tokenizer / -z).`);
    }
    throw new UserError(`${path}: cannot read the tokenizer file: ${describeError(err)}`);
  }
  return parseVocab(data, vocabSize, path, owner);
}

/** Parses the bytes of a tokenizer file; `name` (the path) starts every error message. */
export function parseVocab(data: Uint8Array, vocabSize: number, name: string, owner: VocabOwner = {}): Vocab {
  const model = owner.model === undefined ? "the model's" : `the model ${owner.model}'s`;
  const mismatch = (pieces: string) =>
    `${name}: the file holds ${pieces} pieces, but ${model} vocab_size is ${vocabSize}. ` +
    'This tokenizer does not belong to the model: use the one exported with it ' +
    '(tok512.bin for stories260K, tokenizer.bin for stories15M/42M/110M), with -z.';
  checkVocabSize(name, vocabSize);
  const reader = new TokenReader(data);
  if (data.length < 4) {
    throw new UserError(
      `${name}: the file is ${data.length} bytes, too short for the 4-byte max_token_length that starts a tokenizer.bin. ${NOT_A_TOKENIZER_HINT}`,
    );
  }
  const maxTokenLength = reader.int32(0);
  if (maxTokenLength < 1 || maxTokenLength > MAX_PLAUSIBLE_TOKEN_LENGTH) {
    throw new UserError(
      `${name}: max_token_length is ${maxTokenLength}, expected 1..${MAX_PLAUSIBLE_TOKEN_LENGTH}. ${NOT_A_TOKENIZER_HINT}`,
    );
  }

  const pieces: Uint8Array[] = [];
  const scores = new Float32Array(vocabSize);
  let offset = 4;
  for (let id = 0; id < vocabSize; id++) {
    const token = reader.token(offset, maxTokenLength);
    if (token.kind === 'end') throw new UserError(mismatch(String(id)));
    if (token.kind === 'bad') throw new UserError(`${name}: token ${id} ${token.problem}. ${NOT_A_TOKENIZER_HINT}`);
    scores[id] = token.score;
    pieces.push(token.bytes);
    offset = token.end;
  }

  // More whole tokens than vocab_size: another model's tokenizer (counted, to say so)
  let extraTokens = 0;
  while (offset < data.length) {
    const token = reader.token(offset, maxTokenLength);
    if (token.kind !== 'ok') {
      const problem = token.kind === 'bad' ? token.problem : 'is cut short';
      throw new UserError(
        `${name}: after the ${vocabSize} tokens the model needs and ${extraTokens} more, ` +
          `${data.length - offset} bytes remain that are not a whole token (the token at offset ${offset} ${problem}). ` +
          NOT_A_TOKENIZER_HINT,
      );
    }
    extraTokens++;
    offset = token.end;
  }
  if (extraTokens > 0) throw new UserError(mismatch(String(vocabSize + extraTokens)));
  return { maxTokenLength, pieces, scores };
}

/** The bytes of a tokenizer file holding `pieces` (the inverse of `parseVocab`). */
export function serializeVocab(pieces: readonly Uint8Array[], scores: ArrayLike<number>, maxTokenLength: number): Uint8Array {
  const size = 4 + pieces.reduce((sum, p) => sum + 8 + p.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt32(0, maxTokenLength, true);
  let offset = 4;
  pieces.forEach((piece, id) => {
    view.setFloat32(offset, scores[id], true);
    view.setInt32(offset + 4, piece.length, true);
    out.set(piece, offset + 8);
    offset += 8 + piece.length;
  });
  return out;
}

function checkVocabSize(name: string, vocabSize: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) {
    throw new UserError(
      `${name}: cannot read a tokenizer for vocab_size ${vocabSize}: the model's vocab_size must be a positive integer ` +
        '(a negative vocab_size in a checkpoint header only says the classifier is not shared; use its absolute value).',
    );
  }
}

type TokenRecord = { kind: 'ok'; score: number; bytes: Uint8Array; end: number } | { kind: 'end' } | { kind: 'bad'; problem: string };

/** Reads one token record at a time, saying precisely what is wrong with a bad one. */
class TokenReader {
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  int32(offset: number): number {
    return this.view.getInt32(offset, true);
  }

  token(offset: number, maxTokenLength: number): TokenRecord {
    const left = this.data.length - offset;
    if (left === 0) return { kind: 'end' };
    if (left < 8) {
      return { kind: 'bad', problem: `is truncated at offset ${offset}: expected 8 bytes (float32 score, int32 length), found ${left}` };
    }
    const score = this.view.getFloat32(offset, true);
    const length = this.int32(offset + 4);
    if (length < 0) return { kind: 'bad', problem: `has a negative length (${length}) at offset ${offset + 4}` };
    if (length > maxTokenLength) {
      return {
        kind: 'bad',
        problem: `is ${length} bytes long (offset ${offset + 4}), more than the file's max_token_length of ${maxTokenLength}`,
      };
    }
    const start = offset + 8;
    if (start + length > this.data.length) {
      return { kind: 'bad', problem: `is truncated: expected ${length} bytes at offset ${start}, found ${this.data.length - start}` };
    }
    return { kind: 'ok', score, bytes: new Uint8Array(this.data.subarray(start, start + length)), end: start + length };
  }
}
