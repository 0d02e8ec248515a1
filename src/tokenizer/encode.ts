/**
 * run.c's `encode`: text to token ids.
 *
 *   1. BOS (id 1) if asked;
 *   2. the piece " " (the "dummy prefix" SentencePiece adds) if the text is not empty;
 *   3. one token per UTF-8 character (a lead byte and at most three continuation bytes) whose
 *      text is a piece, else one byte token per byte (id = byte + 3, the pieces "<0x00>".."<0xFF>");
 *   4. merges (merge.ts);
 *   5. EOS (id 2) if asked.
 *
 * The text is bytes, read as run.c reads a C string, with one difference: run.c never sees a NUL
 * byte (its text ends there), while here a NUL inside the text is encoded like any byte with no
 * piece, as the byte token "<0x00>".
 */
import { UserError } from '../util/errors.js';
import { mergePairs, type MergeVocab } from './merge.js';

export const BOS = 1;
export const EOS = 2;
/** Byte b is the token b + 3 (after <unk>, BOS and EOS). */
export const BYTE_TOKEN_OFFSET = 3;

/** The C-string key of the dummy prefix. */
const SPACE = ' ';

export interface EncodeVocab extends MergeVocab {
  readonly vocabSize: number;
}

/**
 * The token ids for `text`, steps 1-5 above. Throws a UserError when the vocabulary has no " " piece, or no
 * byte token for a byte that needs one.
 */
export function encodeBytes(text: Uint8Array, bos: boolean, eos: boolean, vocab: EncodeVocab): number[] {
  const tokens: number[] = [];
  if (bos) tokens.push(BOS);
  if (text.length > 0) {
    const dummyPrefix = vocab.index.find(SPACE);
    if (dummyPrefix === -1) {
      throw new UserError('This tokenizer has no " " piece, which encoding needs: run.c starts every non-empty text with it.');
    }
    tokens.push(dummyPrefix);
  }
  const merged = mergePairs(tokens.concat(characterTokens(text, vocab)), vocab);
  if (eos) merged.push(EOS);
  return merged;
}

/** Step 3: a token per character, or its bytes as byte tokens. */
function characterTokens(text: Uint8Array, vocab: EncodeVocab): number[] {
  const tokens: number[] = [];
  let start = 0; // where the character being collected starts
  for (let i = 0; i < text.length; i++) {
    if (!isContinuation(text[i])) start = i;
    // run.c reads the next byte, which is the terminating NUL at the end of the text
    const nextByte = i + 1 < text.length ? text[i + 1] : 0;
    if (isContinuation(nextByte) && i - start + 1 < 4) continue;
    const id = lookupBytes(text, start, i + 1, vocab);
    if (id !== -1) {
      tokens.push(id);
    } else {
      for (let j = start; j <= i; j++) tokens.push(byteToken(text[j], vocab.vocabSize));
    }
    start = i + 1;
  }
  return tokens;
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

function lookupBytes(text: Uint8Array, start: number, end: number, vocab: EncodeVocab): number {
  let key = '';
  for (let j = start; j < end; j++) {
    if (text[j] === 0) return -1; // a NUL is never part of a piece's C string
    key += String.fromCharCode(text[j]);
  }
  return vocab.index.find(key);
}

function byteToken(byte: number, vocabSize: number): number {
  const id = byte + BYTE_TOKEN_OFFSET;
  if (id >= vocabSize) {
    throw new UserError(
      `This tokenizer has no byte token for 0x${byte.toString(16).padStart(2, '0').toUpperCase()} ` +
        `(it would be id ${id}, but the vocabulary has ${vocabSize} tokens), so it cannot encode that text.`,
    );
  }
  return id;
}
