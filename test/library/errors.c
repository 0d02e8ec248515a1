/*
 * A program of the tests, against llama2_embed.h alone: each documented refusal, a callback that
 * stops the generation, and a context filled to the end then reset. Prints one line per check,
 * "name value", for the test to compare.
 */
#include <stdio.h>
#include <string.h>

#include "llama2_embed.h"

static int stop_after_three(const char *piece, int token, void *user) {
    (void)piece;
    (void)token;
    return ++*(int *)user >= 3;
}

static char long_prompt[70000];

int main(void) {
    int tokens[64];
    printf("init %d\n", l2e_init());
    const l2e_info *info = l2e_model_info();
    printf("info %s %u %u %u %u %s %lu %s\n", info->name, info->vocab_size, info->seq_len, info->dim, info->n_layers, info->quant, info->weights_bytes, info->model_hash);
    printf("encode-small-buffer %d\n", l2e_encode("Once upon a time", 1, 0, tokens, 10));
    printf("encode-null %d\n", l2e_encode(NULL, 1, 0, tokens, 64));
    printf("encode %d\n", l2e_encode("Once upon a time", 1, 1, tokens, 64));
    memset(long_prompt, 'a', info->seq_len + 1);
    printf("generate-long-prompt %d\n", l2e_generate(long_prompt, NULL, NULL, NULL));
    printf("forward-bad-token %d\n", l2e_forward((int)info->vocab_size, 0) == NULL);
    printf("forward-bad-pos %d\n", l2e_forward(1, (int)info->seq_len) == NULL);
    printf("decode-bad-token \"%s\"\n", l2e_decode(1, -1));

    int count = 0;
    int stopped = l2e_generate("Once upon a time", NULL, stop_after_three, &count);
    printf("generate-stopped %d %d\n", stopped, count);

    /* fill the context: greedy, continuing until it refuses */
    l2e_reset();
    l2e_params greedy = {0, L2E_TEMPERATURE_GREEDY, 0.0f, 0};
    int calls = 0, total = 0, last = 0;
    for (; calls < 10000; calls++) {
        last = l2e_generate(calls == 0 ? "Once upon a time" : "", &greedy, NULL, NULL);
        if (last < 0) break;
        total += last;
    }
    printf("context-full %d after %d calls\n", last, calls);
    l2e_reset();
    printf("after-reset %d\n", l2e_generate("Once upon a time", &greedy, NULL, NULL) > 0);
    printf("strerror %s\n", l2e_strerror(L2E_E_PROMPT_TOO_LONG));
    (void)total;
    return 0;
}
