/*
 * The llama2.c tokenizer (tokenizer.bin) for programs that carry their vocabulary: encode exactly
 * as llama2.c's run.c does (the reference engine's src/tokenizer/ is checked against it), decode
 * to raw bytes. With TOKENIZER_TABLES (model.h; a firmware) the vocabulary is const tables
 * generated at build time (tokenizer_tables.c), ready without tokenizer_init; otherwise
 * tokenizer_init parses a tokenizer.bin image into static storage sized by VOCAB_SIZE and
 * TOKENIZER_BYTES.
 */
#ifndef LLAMA2_EMBED_TOKENIZER_H
#define LLAMA2_EMBED_TOKENIZER_H

#include <stddef.h>

#include "model.h"

/* What tokenizer_init and tokenizer_encode return when they refuse (tokenizer_error says it in words). */
#define TOKENIZER_TRUNCATED (-1)
#define TOKENIZER_TOO_FEW_PIECES (-2)
#define TOKENIZER_TOO_MANY_PIECES (-3)
#define TOKENIZER_PIECE_TOO_LONG (-4)
#define TOKENIZER_NO_SPACE (-5)
#define TOKENIZER_NO_BYTE_PIECE (-6)

/*
 * Parses a tokenizer.bin image; returns 0, or one of the codes above when it does not hold exactly
 * VOCAB_SIZE pieces, a piece is longer than its max_token_length, or it lacks the " " piece that
 * every non-empty text starts with.
 */
#if !TOKENIZER_TABLES
int tokenizer_init(const unsigned char* image, size_t size);
#endif

/* The message for a code tokenizer_init or tokenizer_encode returned. */
const char* tokenizer_error(int code);

/*
 * Encodes UTF-8 text: optional BOS (1), the dummy-prefix space for non-empty text, codepoints
 * with byte fallback, then merges by best score; optional EOS (2). `tokens` needs room for
 * strlen(text) + 3 ids. Returns the number of tokens, or TOKENIZER_NO_BYTE_PIECE when a codepoint
 * falls back to a byte piece the vocabulary does not have.
 */
int tokenizer_encode(const char* text, int bos, int eos, int* tokens);

/*
 * The bytes of `token` following `prev`: the leading space is dropped after BOS, and a byte
 * piece "<0xAB>" is the byte 0xAB. Sets *length (a byte piece may be a NUL byte).
 */
const char* tokenizer_decode(int prev, int token, size_t* length);

#endif
