/*
 * llama2-embed host program: generates text with the model compiled into it, taking llama2.c
 * run's flags. Everything the model needs is in static storage sized at generation time (model.h);
 * only this file's command-line handling is hand-written.
 *
 *   ./llama2 -i "Once upon a time" -n 256 -t 0.8 -p 0.9 -s 42 [--format text|ids]
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "forward.h"
#include "kernels.h"
#include "tokenizer.h"

/* tokenizer.bin, linked in by blobs.S */
extern const unsigned char tokenizer_image[];
extern const unsigned char tokenizer_image_end[];

#define MAX_PROMPT_BYTES 4096
static int prompt_tokens[MAX_PROMPT_BYTES + 3];
static int32_t sampler_order[VOCAB_SIZE];

static long time_in_ms(void) {
    struct timespec time;
    clock_gettime(CLOCK_REALTIME, &time);
    return time.tv_sec * 1000 + time.tv_nsec / 1000000;
}

static void usage(void) {
    fprintf(stderr,
            "Usage:   llama2 [options]\n"
            "Example: llama2 -i \"Once upon a time\" -n 256 -t 0.8 -p 0.9 -s 42\n"
            "Options:\n"
            "  -t <float>  temperature in [0,inf], default 1.0 (0 = greedy)\n"
            "  -p <float>  p value in top-p (nucleus) sampling in [0,1], default 0.9\n"
            "  -s <int>    random seed, default time(NULL)\n"
            "  -n <int>    number of steps to run for, default 256; 0 = max_seq_len (%d)\n"
            "  -i <string> input prompt\n"
            "  --format text|ids   text (default), or P <id> / G <id> lines\n"
            "  --dump-logits <n>   print the logits of the first n positions as float32 bits (for tests)\n"
            "  --threads <n>       matmul threads (default %d)\n",
            SEQ_LEN, DEFAULT_THREADS);
    exit(EXIT_FAILURE);
}

static void fail(const char* message, const char* detail) {
    fprintf(stderr, "llama2: %s%s\n", message, detail ? detail : "");
    exit(EXIT_FAILURE);
}

int main(int argc, char** argv) {
    float temperature = 1.0f, topp = 0.9f;
    unsigned long long rng_seed = 0;
    int steps = 256, ids_format = 0, dump_logits = 0, threads = DEFAULT_THREADS;
    const char* prompt = "";

    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage();
        const char* flag = argv[i];
        const char* value = argv[i + 1];
        if (strcmp(flag, "-t") == 0) temperature = (float)atof(value);
        else if (strcmp(flag, "-p") == 0) topp = (float)atof(value);
        else if (strcmp(flag, "-s") == 0) rng_seed = strtoull(value, NULL, 10);
        else if (strcmp(flag, "-n") == 0) steps = atoi(value);
        else if (strcmp(flag, "-i") == 0) prompt = value;
        else if (strcmp(flag, "--format") == 0) {
            if (strcmp(value, "ids") == 0) ids_format = 1;
            else if (strcmp(value, "text") != 0) fail("--format must be text or ids, got ", value);
        } else if (strcmp(flag, "--dump-logits") == 0) dump_logits = atoi(value);
        else if (strcmp(flag, "--threads") == 0) threads = atoi(value);
        else usage();
    }
    /* the same corrections as run.c */
    if (rng_seed <= 0) rng_seed = (unsigned int)time(NULL);
    if (temperature < 0.0f) temperature = 0.0f;
    if (topp < 0.0f || 1.0f < topp) topp = 0.9f;
    if (steps <= 0 || steps > SEQ_LEN) steps = SEQ_LEN;
    if (threads < 1) threads = 1;
    if (strlen(prompt) > MAX_PROMPT_BYTES) fail("the prompt is too long for this program (at most 4096 bytes)", NULL);

    if (tokenizer_init(tokenizer_image, (size_t)(tokenizer_image_end - tokenizer_image)) != 0) {
        fail("the tokenizer compiled into this program is malformed", NULL);
    }
    forward_init(threads);
    int num_prompt_tokens = tokenizer_encode(prompt, 1, 0, prompt_tokens);
    if (ids_format) {
        for (int i = 0; i < num_prompt_tokens; i++) printf("P %d\n", prompt_tokens[i]);
    }

    uint64_t rng_state = rng_seed;
    long start = 0;
    int token = prompt_tokens[0], pos = 0, next;
    while (pos < steps) {
        float* logits = forward(token, pos);
        if (pos < dump_logits) {
            printf("L %d", pos);
            for (int i = 0; i < VOCAB_SIZE; i++) {
                uint32_t bits;
                memcpy(&bits, &logits[i], sizeof bits);
                printf(" %08x", bits);
            }
            printf("\n");
        }
        int from_prompt = pos < num_prompt_tokens - 1;
        next = from_prompt ? prompt_tokens[pos + 1] : sample_next(logits, VOCAB_SIZE, temperature, topp, sampler_order, &rng_state);
        pos++;
        if (ids_format && !from_prompt) printf("G %d\n", next);
        if (next == 1) break; /* BOS ends the sequence, as in run.c */
        if (!ids_format) {
            size_t length;
            const char* piece = tokenizer_decode(token, next, &length);
            fwrite(piece, 1, length, stdout);
            fflush(stdout);
        }
        token = next;
        if (start == 0) start = time_in_ms(); /* from the end of the first step, as run.c */
    }
    if (!ids_format) printf("\n");
    fflush(stdout);
    if (pos > 1) {
        long end = time_in_ms();
        fprintf(stderr, "achieved tok/s: %f\n", (pos - 1) / (double)(end - start > 0 ? end - start : 1) * 1000);
    }
    return 0;
}
