/*
 * The llama2.c tokenizer, with static storage. Encoding follows run.c's `encode` step by step:
 * pieces are found by binary search in the vocabulary sorted by strcmp, text is split into UTF-8
 * codepoints (unknown ones fall back to byte tokens, id = byte + 3), then the adjacent pair whose
 * concatenation has the highest score is merged until no pair is in the vocabulary.
 *
 * Two ways to hold the vocabulary, one layout (every piece a C string in one array, an offset, a
 * score and a sorted position per token):
 * - TOKENIZER_TABLES (model.h; a firmware): const tables generated at build time
 *   (tokenizer_tables.c, src/codegen/tokenizer-tables.ts), read in place from flash. Nothing to
 *   parse or sort at boot; the SRAM holds only the merge buffer.
 * - otherwise (host and Raspberry Pi programs, exported libraries): tokenizer_init parses a
 *   tokenizer.bin image into static arrays sized by VOCAB_SIZE and TOKENIZER_BYTES, and sorts.
 */
#include "tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* the sorted index holds 16-bit ids (the serial protocol's, too) */
_Static_assert(VOCAB_SIZE <= 65536, "the tokenizer's sorted index holds 16-bit ids");

#if TOKENIZER_TABLES
#include "tokenizer_tables.h"
#define pieces tokenizer_pieces
#define piece_offsets tokenizer_piece_offsets
#define vocab_scores tokenizer_scores
#define sorted_ids tokenizer_sorted_ids
#else
static char pieces[TOKENIZER_BYTES]; /* every piece, NUL-terminated */
static uint32_t piece_offsets[VOCAB_SIZE];
static float vocab_scores[VOCAB_SIZE];
static uint16_t sorted_ids[VOCAB_SIZE];
#endif
static char merge_buffer[2 * TOKENIZER_MAX_TOKEN_LENGTH + 4];

/* "\x00\0\x01\0...\xff\0": the byte tokens' text, as C strings (const: in flash on a firmware) */
#define BYTE_PIECES_4(b) (b), 0, (b) + 1, 0, (b) + 2, 0, (b) + 3, 0
#define BYTE_PIECES_16(b) BYTE_PIECES_4(b), BYTE_PIECES_4((b) + 4), BYTE_PIECES_4((b) + 8), BYTE_PIECES_4((b) + 12)
#define BYTE_PIECES_64(b) BYTE_PIECES_16(b), BYTE_PIECES_16((b) + 16), BYTE_PIECES_16((b) + 32), BYTE_PIECES_16((b) + 48)
static const unsigned char byte_pieces[512] = {BYTE_PIECES_64(0), BYTE_PIECES_64(64), BYTE_PIECES_64(128), BYTE_PIECES_64(192)};

/* the piece of token `id`, as a C string */
static const char* piece(int id) {
    return pieces + piece_offsets[id];
}

/*
 * run.c's str_lookup: the id of the piece equal to `str`, or -1. Probes as glibc's bsearch does
 * (the middle of the remaining range), so that a vocabulary with a piece twice gives the id the
 * reference tokenizer gives (src/tokenizer/piece-index.ts).
 */
static int str_lookup(const char* str) {
    size_t lo = 0, hi = VOCAB_SIZE;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int id = sorted_ids[mid];
        int order = strcmp(str, piece(id));
        if (order < 0) {
            hi = mid;
        } else if (order > 0) {
            lo = mid + 1;
        } else {
            return id;
        }
    }
    return -1;
}

#if !TOKENIZER_TABLES
/* strcmp order, equal pieces by id: the order the generated tables have, whatever qsort's stability */
static int compare_ids(const void* a, const void* b) {
    int x = *(const uint16_t*)a, y = *(const uint16_t*)b;
    int order = strcmp(piece(x), piece(y));
    return order != 0 ? order : x - y;
}

static int32_t read_i32(const unsigned char* p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
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
        if (len > max_token_length || stored + (size_t)len + 1 > sizeof pieces) return TOKENIZER_PIECE_TOO_LONG;
        memcpy(pieces + stored, image + pos, (size_t)len);
        pieces[stored + (size_t)len] = '\0';
        piece_offsets[i] = (uint32_t)stored;
        stored += (size_t)len + 1;
        pos += (size_t)len;
        sorted_ids[i] = (uint16_t)i;
    }
    /* a tokenizer of another vocabulary (more pieces than the model's VOCAB_SIZE) */
    if (pos != size) return TOKENIZER_TOO_MANY_PIECES;
    qsort(sorted_ids, VOCAB_SIZE, sizeof sorted_ids[0], compare_ids);
    /* the dummy prefix of every non-empty text */
    if (str_lookup(" ") < 0) return TOKENIZER_NO_SPACE;
    return 0;
}
#endif

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
        if (space < 0) return TOKENIZER_NO_SPACE; /* tokenizer_init (the build, for tables) refuses such a tokenizer */
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
            const char *left = piece(tokens[i]), *right = piece(tokens[i + 1]);
            size_t a = strlen(left), b = strlen(right);
            memcpy(merge_buffer, left, a);
            memcpy(merge_buffer + a, right, b + 1);
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
    const char* text = piece(token);
    /* after BOS, SentencePiece drops the leading space */
    if (prev == 1 && text[0] == ' ') text++;
    /* a byte piece "<0xAB>" (as run.c's sscanf "<0x%02hhX>" reads it) is the raw byte */
    if (text[0] == '<' && text[1] == '0' && text[2] == 'x' && hex_digit(text[3]) >= 0) {
        int value = hex_digit(text[3]);
        if (hex_digit(text[4]) >= 0) value = value * 16 + hex_digit(text[4]);
        *length = 1;
        return (const char*)byte_pieces + value * 2;
    }
    *length = strlen(text);
    return text;
}
