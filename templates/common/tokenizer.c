/*
 * The llama2.c tokenizer, with static storage. Encoding follows run.c's `encode` step by step:
 * the vocabulary is sorted once for binary search, text is split into UTF-8 codepoints (unknown
 * ones fall back to byte tokens, id = byte + 3), then the adjacent pair whose concatenation has
 * the highest score is merged until no pair is in the vocabulary.
 */
#include "tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct {
    const char* str;
    int id;
} TokenIndex;

static char* vocab[VOCAB_SIZE];
static float vocab_scores[VOCAB_SIZE];
static TokenIndex sorted_vocab[VOCAB_SIZE];
static char piece_storage[TOKENIZER_BYTES]; /* every piece, NUL-terminated */
static unsigned char byte_pieces[512];      /* "\x00\0\x01\0..." for byte tokens */
static char merge_buffer[2 * TOKENIZER_MAX_TOKEN_LENGTH + 4];

static int compare_tokens(const void* a, const void* b) {
    return strcmp(((const TokenIndex*)a)->str, ((const TokenIndex*)b)->str);
}

static int32_t read_i32(const unsigned char* p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int str_lookup(const char* str) {
    TokenIndex key = {str, 0};
    const TokenIndex* found = bsearch(&key, sorted_vocab, VOCAB_SIZE, sizeof(TokenIndex), compare_tokens);
    return found ? found->id : -1;
}

int tokenizer_init(const unsigned char* image, size_t size) {
    size_t pos = 4, stored = 0;
    if (size < 4) return TOKENIZER_TRUNCATED;
    int32_t max_token_length = read_i32(image);
    if (max_token_length < 0 || max_token_length > TOKENIZER_MAX_TOKEN_LENGTH) return TOKENIZER_PIECE_TOO_LONG;
    for (int i = 0; i < VOCAB_SIZE; i++) {
        if (pos + 8 > size) return TOKENIZER_TOO_FEW_PIECES;
        memcpy(&vocab_scores[i], image + pos, sizeof(float));
        int32_t len = read_i32(image + pos + 4);
        pos += 8;
        if (len < 0 || pos + (size_t)len > size) return TOKENIZER_TRUNCATED;
        /* the merge buffer holds two pieces of at most max_token_length bytes */
        if (len > max_token_length || stored + (size_t)len + 1 > sizeof piece_storage) return TOKENIZER_PIECE_TOO_LONG;
        memcpy(piece_storage + stored, image + pos, (size_t)len);
        piece_storage[stored + (size_t)len] = '\0';
        vocab[i] = piece_storage + stored;
        stored += (size_t)len + 1;
        pos += (size_t)len;
        sorted_vocab[i].str = vocab[i];
        sorted_vocab[i].id = i;
    }
    /* a tokenizer of another vocabulary (more pieces than the model's VOCAB_SIZE) */
    if (pos != size) return TOKENIZER_TOO_MANY_PIECES;
    for (int i = 0; i < 256; i++) {
        byte_pieces[i * 2] = (unsigned char)i;
        byte_pieces[i * 2 + 1] = '\0';
    }
    qsort(sorted_vocab, VOCAB_SIZE, sizeof(TokenIndex), compare_tokens);
    /* the dummy prefix of every non-empty text */
    if (str_lookup(" ") < 0) return TOKENIZER_NO_SPACE;
    return 0;
}

const char* tokenizer_error(int code) {
    switch (code) {
    case TOKENIZER_TRUNCATED: return "the tokenizer image is truncated";
    case TOKENIZER_TOO_FEW_PIECES: return "the tokenizer has fewer pieces than the model's vocabulary (VOCAB_SIZE)";
    case TOKENIZER_TOO_MANY_PIECES: return "the tokenizer has more pieces than the model's vocabulary (VOCAB_SIZE): it is another model's";
    case TOKENIZER_PIECE_TOO_LONG: return "the tokenizer has a piece longer than its max_token_length allows";
    case TOKENIZER_NO_SPACE: return "the tokenizer has no \" \" piece (the prefix every prompt starts with)";
    case TOKENIZER_NO_BYTE_PIECE: return "the text needs a byte piece (ids 3..258) beyond the tokenizer's vocabulary";
    default: return "the tokenizer is malformed";
    }
}

int tokenizer_encode(const char* text, int bos, int eos, int* tokens) {
    char codepoint[5];
    size_t codepoint_len = 0;
    int n = 0;
    if (bos) tokens[n++] = 1;
    /* the dummy prefix: SentencePiece adds a space before non-empty text */
    if (text[0] != '\0') {
        int space = str_lookup(" ");
        if (space < 0) return TOKENIZER_NO_SPACE; /* tokenizer_init refuses such a tokenizer */
        tokens[n++] = space;
    }

    for (const char* c = text; *c != '\0'; c++) {
        /* a byte that does not continue a UTF-8 sequence starts a new codepoint */
        if ((*c & 0xC0) != 0x80) codepoint_len = 0;
        codepoint[codepoint_len++] = *c;
        codepoint[codepoint_len] = '\0';
        if ((*(c + 1) & 0xC0) == 0x80 && codepoint_len < 4) continue;
        int id = str_lookup(codepoint);
        if (id != -1) {
            tokens[n++] = id;
        } else {
            /* byte fallback: <0x00>..<0xFF> are ids 3..258 */
            for (size_t i = 0; i < codepoint_len; i++) {
                int byte_id = (unsigned char)codepoint[i] + 3;
                if (byte_id >= VOCAB_SIZE) return TOKENIZER_NO_BYTE_PIECE;
                tokens[n++] = byte_id;
            }
        }
        codepoint_len = 0;
    }

    /* merge the best-scoring adjacent pair until none is in the vocabulary */
    for (;;) {
        float best_score = -1e10f;
        int best_id = -1, best_idx = -1;
        for (int i = 0; i < n - 1; i++) {
            size_t a = strlen(vocab[tokens[i]]), b = strlen(vocab[tokens[i + 1]]);
            memcpy(merge_buffer, vocab[tokens[i]], a);
            memcpy(merge_buffer + a, vocab[tokens[i + 1]], b + 1);
            int id = str_lookup(merge_buffer);
            if (id != -1 && vocab_scores[id] > best_score) {
                best_score = vocab_scores[id];
                best_id = id;
                best_idx = i;
            }
        }
        if (best_idx == -1) break;
        tokens[best_idx] = best_id;
        for (int i = best_idx + 1; i < n - 1; i++) tokens[i] = tokens[i + 1];
        n--;
    }
    if (eos) tokens[n++] = 2;
    return n;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

const char* tokenizer_decode(int prev, int token, size_t* length) {
    const char* piece = vocab[token];
    /* after BOS, SentencePiece drops the leading space */
    if (prev == 1 && piece[0] == ' ') piece++;
    /* a byte piece "<0xAB>" (as run.c's sscanf "<0x%02hhX>" reads it) is the raw byte */
    if (piece[0] == '<' && piece[1] == '0' && piece[2] == 'x' && hex_digit(piece[3]) >= 0) {
        int value = hex_digit(piece[3]);
        if (hex_digit(piece[4]) >= 0) value = value * 16 + hex_digit(piece[4]);
        *length = 1;
        return (const char*)byte_pieces + value * 2;
    }
    *length = strlen(piece);
    return piece;
}
