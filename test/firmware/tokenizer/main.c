/*
 * tokenizer — the tokenizer with its tables in flash (templates/common/tokenizer.c with
 * TOKENIZER_TABLES and a generated tokenizer_tables.c), run on the RP2040 in rp2040js by
 * test/firmware/tokenizer.spec.ts. cases.h (written by the test) holds the texts to encode and
 * the token pairs to decode; for each text a line `E <cycles> <id> <id> ...` (or `E <cycles> !<code>`
 * when refused), for each pair a line `D <hex bytes>`, then `done`. With PARSE_AT_INIT (and
 * TOKENIZER_TABLES 0 in model.h), cases.h holds the tokenizer.bin image, which tokenizer_init
 * parses and sorts first: a line `I <cycles> <status>`.
 */
#include "rp2040.h"
#include "tokenizer.h"

#include "cases.h"

static int tokens[MAX_TEXT_BYTES + 3];

static void print_hex_byte(unsigned char b) {
    static const char digits[] = "0123456789abcdef";
    char text[3] = {digits[b >> 4], digits[b & 15], '\0'};
    print_str(text);
}

int main(void) {
#ifdef PARSE_AT_INIT
    uint64_t init_start = cycles_now();
    int status = tokenizer_init(image, sizeof image - 1);
    uint64_t init_cycles = cycles_now() - init_start;
    print_str("I ");
    print_u64(init_cycles);
    print_str(" ");
    print_i32(status);
    print_str("\n");
#endif
    for (unsigned t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        uint64_t start = cycles_now();
        int n = tokenizer_encode(texts[t], 1, 0, tokens);
        uint64_t cycles = cycles_now() - start;
        print_str("E ");
        print_u64(cycles);
        if (n < 0) {
            print_str(" !");
            print_i32(n);
        }
        for (int i = 0; i < n; i++) {
            print_str(" ");
            print_i32(tokens[i]);
        }
        print_str("\n");
    }
    for (unsigned p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        size_t length;
        const char* piece = tokenizer_decode(pairs[p][0], pairs[p][1], &length);
        print_str("D ");
        for (size_t i = 0; i < length; i++) print_hex_byte((unsigned char)piece[i]);
        print_str("\n");
    }
    print_str("done\n");
    rp2040_exit(0);
}
