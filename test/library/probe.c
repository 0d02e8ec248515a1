/*
 * A program of the tests, written against llama2_embed.h alone, as a user of the exported library
 * would: it prints the prompt's tokens (P <id>), the generated ones (G <id>), and the logits of the
 * first positions of the same sequence run again through l2e_forward (L <pos> <float32 bits>...),
 * the format of the generated programs' --format ids --dump-logits, for test/helpers/engine-run.ts.
 *
 *   probe PROMPT STEPS TEMPERATURE TOPP SEED LOGIT_POSITIONS [FIRST_STEPS]
 *
 * FIRST_STEPS > 0 splits the generation in two calls: FIRST_STEPS positions, then the rest
 * continuing the text (an empty prompt), which greedy decoding must make the same tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama2_embed.h"

static int sequence[8192];
static int length;

static int collect(const char *piece, int token, void *user) {
    (void)piece;
    printf("G %d\n", token);
    sequence[length++] = token;
    ++*(int *)user;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 7) return 2;
    /* before l2e_init every call refuses */
    printf("before init: %d %d %d\n", l2e_generate("", NULL, NULL, NULL), l2e_forward(0, 0) == NULL, l2e_encode("a", 1, 0, sequence, 8));
    int status = l2e_init();
    if (status != L2E_OK) {
        fprintf(stderr, "l2e_init: %s\n", l2e_strerror(status));
        return 1;
    }
    length = l2e_encode(argv[1], 1, 0, sequence, (int)(sizeof sequence / sizeof sequence[0]));
    if (length < 0) return 1;
    for (int i = 0; i < length; i++) printf("P %d\n", sequence[i]);

    l2e_params params = {atoi(argv[2]), (float)atof(argv[3]), (float)atof(argv[4]), strtoull(argv[5], NULL, 10)};
    int first = argc > 7 ? atoi(argv[7]) : 0;
    int count = 0, returned;
    if (first > 0) {
        l2e_params rest = params;
        params.steps = first;
        rest.steps -= first;
        returned = l2e_generate(argv[1], &params, collect, &count);
        if (returned >= 0) returned += l2e_generate("", &rest, collect, &count);
    } else {
        returned = l2e_generate(argv[1], &params, collect, &count);
    }
    if (returned != count) {
        fprintf(stderr, "l2e_generate returned %d for %d tokens\n", returned, count);
        return 1;
    }

    l2e_reset();
    int positions = atoi(argv[6]);
    for (int pos = 0; pos < positions && pos < length; pos++) {
        const float *logits = l2e_forward(sequence[pos], pos);
        if (!logits) return 1;
        printf("L %d", pos);
        for (unsigned i = 0; i < l2e_model_info()->vocab_size; i++) {
            unsigned int bits;
            memcpy(&bits, &logits[i], sizeof bits);
            printf(" %08x", bits);
        }
        printf("\n");
    }
    printf("strerror: %s / %s\n", l2e_strerror(L2E_E_CONTEXT_FULL), l2e_strerror(-999));
    return 0;
}
