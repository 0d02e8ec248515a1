/*
 * Generates text with the model compiled into the library, through llama2_embed.h only.
 *
 *   ./generate [-i PROMPT] [-n STEPS] [-t TEMPERATURE] [-p TOPP] [-s SEED]
 *
 * The flags are llama2.c run's; what is not given keeps the library's defaults (256 steps,
 * temperature 1.0, top-p 0.9, seed 42). -t 0 is greedy, as in run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama2_embed.h"

static int print_piece(const char *piece, int token, void *user) {
    (void)token;
    (void)user;
    fputs(piece, stdout);
    fflush(stdout);
    return 0; /* keep going */
}

int main(int argc, char **argv) {
    const char *prompt = "";
    l2e_params params = {0, 0.0f, 0.0f, 0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-i") == 0) prompt = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0) params.steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-t") == 0) {
            /* run's -t 0 is greedy; in l2e_params 0 means the default */
            float temperature = (float)atof(argv[i + 1]);
            params.temperature = temperature == 0.0f ? L2E_TEMPERATURE_GREEDY : temperature;
        } else if (strcmp(argv[i], "-p") == 0) params.topp = (float)atof(argv[i + 1]);
        else if (strcmp(argv[i], "-s") == 0) params.seed = strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [-i PROMPT] [-n STEPS] [-t TEMPERATURE] [-p TOPP] [-s SEED]\n", argv[0]);
            return 1;
        }
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[argc - 1]);
        return 1;
    }

    int status = l2e_init();
    if (status != L2E_OK) {
        fprintf(stderr, "l2e_init: %s\n", l2e_strerror(status));
        return 1;
    }
    const l2e_info *info = l2e_model_info();
    fprintf(stderr, "%s (%s), context %u\n", info->name, info->quant, info->seq_len);
    fputs(prompt, stdout);
    int generated = l2e_generate(prompt, &params, print_piece, NULL);
    if (generated < 0) {
        fprintf(stderr, "\nl2e_generate: %s\n", l2e_strerror(generated));
        return 1;
    }
    printf("\n");
    return 0;
}
