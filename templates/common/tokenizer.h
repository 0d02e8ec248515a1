/*
 * The llama2.c tokenizer (tokenizer.bin) for programs that carry their vocabulary: encode exactly
 * as llama2.c's run.c does (the reference engine's src/tokenizer/ is checked against it), decode
 * to raw bytes. Storage is static, sized by VOCAB_SIZE and TOKENIZER_BYTES from model.h.
 */
#ifndef LLAMA2_EMBED_TOKENIZER_H
#define LLAMA2_EMBED_TOKENIZER_H

#include <stddef.h>

/* Parses a tokenizer.bin image; returns 0, or -1 if it is malformed for VOCAB_SIZE tokens. */
int tokenizer_init(const unsigned char* image, size_t size);

/*
 * Encodes UTF-8 text: optional BOS (1), the dummy-prefix space for non-empty text, codepoints
 * with byte fallback, then merges by best score; optional EOS (2). `tokens` needs room for
 * strlen(text) + 3 ids. Returns the number of tokens.
 */
int tokenizer_encode(const char* text, int bos, int eos, int* tokens);

/*
 * The bytes of `token` following `prev`: the leading space is dropped after BOS, and a byte
 * piece "<0xAB>" is the byte 0xAB. Sets *length (a byte piece may be a NUL byte).
 */
const char* tokenizer_decode(int prev, int token, size_t* length);

#endif
