/**
 * The tokenizer as constant C tables (tokenizer_tables.c), for a firmware that keeps its
 * vocabulary in flash: everything templates/common/tokenizer.c needs to encode and decode,
 * built here at build time, so that the device parses and sorts nothing at boot and its SRAM
 * holds only one prompt's encoding. The tables (TOKENIZER_TABLES in model.h):
 *
 *   tokenizer_pieces         every piece as a C string (up to its first NUL), in id order
 *   tokenizer_piece_offsets  uint32 per token: where its piece starts in tokenizer_pieces
 *   tokenizer_scores         float32 per token: the merge scores, bit for bit the file's
 *   tokenizer_sorted_ids     uint16 per token: the ids in strcmp order of their pieces (run.c's
 *                            sorted_vocab), equal pieces in id order, which tokenizer.c's binary
 *                            search probes as glibc's bsearch does (src/tokenizer/piece-index.ts)
 *
 * stories15M's 32,000-token tokenizer.bin: 517 KiB (the pieces 205 KiB, the offsets and scores
 * 125 KiB each, the sorted ids 62.5 KiB).
 */
import { cByteArray } from './c-array.js';
import { floatLiteral } from './kernel-compiler.js';
import { pieceKey } from '../tokenizer/piece-index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/** The largest vocabulary the tables index: tokenizer_sorted_ids holds 16-bit ids. */
export const TABLES_MAX_VOCAB = 65_536;

/** The bytes of each table, as the C arrays declare them, each rounded up to 4 (they are word-aligned in one section). */
export interface TokenizerTableSizes {
  pieces: number;
  offsets: number;
  scores: number;
  sortedIds: number;
  total: number;
}

/** The C-string pieces of a tokenizer, in id order (a piece ends at its first NUL, as run.c reads it). */
function cPieces(tokenizer: Tokenizer): Uint8Array[] {
  return Array.from({ length: tokenizer.vocabSize }, (_, id) => {
    const piece = tokenizer.piece(id);
    const nul = piece.indexOf(0);
    return nul === -1 ? piece : piece.subarray(0, nul);
  });
}

/** The sizes of the tables for `vocabSize` tokens whose C-string pieces total `pieceBytes` (without their NULs). */
export function tokenizerTableSizes(vocabSize: number, pieceBytes: number): TokenizerTableSizes {
  const word = (n: number) => Math.ceil(n / 4) * 4;
  // the pieces array is declared one byte longer, for the string literal's own NUL (c-array.ts)
  const pieces = word(pieceBytes + vocabSize + 1);
  const offsets = 4 * vocabSize;
  const scores = 4 * vocabSize;
  const sortedIds = word(2 * vocabSize);
  return { pieces, offsets, scores, sortedIds, total: pieces + offsets + scores + sortedIds };
}

/** The sizes of `tokenizer`'s tables (what the memory plan counts in flash). */
export function tablesOf(tokenizer: Tokenizer): TokenizerTableSizes {
  return tokenizerTableSizes(
    tokenizer.vocabSize,
    cPieces(tokenizer).reduce((n, p) => n + p.length, 0),
  );
}

/** The ids in the order run.c's sorted_vocab lists them: by strcmp of the pieces, equal pieces in id order. */
export function sortedIds(tokenizer: Tokenizer): number[] {
  const keys = cPieces(tokenizer).map(pieceKey);
  // byte-string keys: `<` on them is strcmp (piece-index.ts)
  return keys.map((_, id) => id).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
}

/** A C initializer list of numbers, 16 a line. */
function numberList(values: readonly string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += 16) lines.push(`    ${values.slice(i, i + 16).join(', ')},`);
  return lines.join('\n');
}

/**
 * tokenizer_tables.c for `tokenizer`, as chunks (the pieces are a string literal: GCC reads those
 * far faster than numbers). `header` is the generated-file comment. Throws for a vocabulary whose
 * ids do not fit 16 bits (the build refuses those before: the protocol sends 16-bit ids).
 */
export function* emitTokenizerTables(tokenizer: Tokenizer, header: string): Generator<Buffer> {
  if (tokenizer.vocabSize > TABLES_MAX_VOCAB) {
    throw new Error(`emitTokenizerTables: ${tokenizer.vocabSize} tokens do not fit 16-bit sorted ids`);
  }
  const pieces = cPieces(tokenizer);
  const offsets: number[] = [];
  let at = 0;
  for (const p of pieces) {
    offsets.push(at);
    at += p.length + 1;
  }
  const blob = new Uint8Array(at);
  pieces.forEach((p, id) => blob.set(p, offsets[id]));
  const sizes = tablesOf(tokenizer);
  const n = tokenizer.vocabSize;
  yield Buffer.from(`${header}
#include <math.h>
#include <stdint.h>

#include "tokenizer_tables.h"

/* ${n} pieces, ${sizes.total} bytes of tables in flash: nothing here is copied to SRAM. One
 * section, which a firmware's linker script gathers and the build measures against the plan. */
#define TABLE __attribute__((section(".rodata.tokenizer_tables"), aligned(4)))

/* every piece as a C string, in id order */
`);
  yield* cByteArray(`TABLE const char tokenizer_pieces[${blob.length + 1}]`, blob);
  yield Buffer.from(`
/* where each piece starts in tokenizer_pieces */
TABLE const uint32_t tokenizer_piece_offsets[VOCAB_SIZE] = {
${numberList(offsets.map(String))}
};

/* the merge scores (float32, as tokenizer.bin stores them) */
TABLE const float tokenizer_scores[VOCAB_SIZE] = {
${numberList(Array.from({ length: n }, (_, id) => floatLiteral(tokenizer.score(id))))}
};

/* the ids by strcmp of their pieces (equal pieces in id order): run.c's sorted_vocab */
TABLE const uint16_t tokenizer_sorted_ids[VOCAB_SIZE] = {
${numberList(sortedIds(tokenizer).map(String))}
};
`);
}

/** tokenizer_tables.h: the tables' declarations, for tokenizer.c. `header` is the generated-file comment. */
export function emitTokenizerTablesHeader(header: string): string {
  return `${header}
#ifndef LLAMA2_EMBED_TOKENIZER_TABLES_H
#define LLAMA2_EMBED_TOKENIZER_TABLES_H

#include <stdint.h>

#include "model.h"

extern const char tokenizer_pieces[];
extern const uint32_t tokenizer_piece_offsets[VOCAB_SIZE];
extern const float tokenizer_scores[VOCAB_SIZE];
extern const uint16_t tokenizer_sorted_ids[VOCAB_SIZE];

#endif
`;
}
