/*
 * llama2-embed firmware for the RP2040 (Raspberry Pi Pico): the model compiled into it, a
 * generation baked in at build time (generation.h), run at reset and streamed over UART0.
 *
 * Output: with the tokenizer embedded (--embed-tokenizer), the text, like llama2.c run;
 * otherwise `P <id>` / `G <id>` lines for the host to decode. Then a statistics line:
 *   achieved tok/s: 12.34 (N tokens, C cycles per token at F MHz)
 * The runtime (firmware/rp2040: boot2, clocks, UART, timer) runs before main().
 */
#include <stdint.h>
#include <string.h>

#include "forward.h"
#include "generation.h"
#include "kernels.h"
#include "model.h"
#include "rp2040.h"

#if EMBED_TOKENIZER
#include "tokenizer.h"
extern const unsigned char tokenizer_image[];
extern const unsigned char tokenizer_image_end[];
#endif

static int32_t sampler_order[VOCAB_SIZE];
static const int prompt_tokens[] = GENERATION_PROMPT_TOKENS;
#define NUM_PROMPT_TOKENS ((int)(sizeof prompt_tokens / sizeof prompt_tokens[0]))

static void print_token(int prev, int next, int from_prompt) {
#if EMBED_TOKENIZER
    (void)from_prompt;
    size_t length;
    const char* piece = tokenizer_decode(prev, next, &length);
    uart_write((const uint8_t*)piece, length);
#else
    (void)prev;
    print_str(from_prompt ? "P " : "G ");
    print_u32((uint32_t)next);
    print_str("\n");
#endif
}

/* tok/s with two decimals, from integers only (no printf on this target). */
static void print_rate(uint64_t tokens, uint64_t cycles) {
    uint64_t hundredths = cycles ? tokens * (uint64_t)RP2040_CLK_SYS_HZ * 100u / cycles : 0;
    print_u64(hundredths / 100u);
    print_str(".");
    uint32_t fraction = (uint32_t)(hundredths % 100u);
    if (fraction < 10u) print_str("0");
    print_u32(fraction);
}

int main(void) {
#if EMBED_TOKENIZER
    if (tokenizer_init(tokenizer_image, (size_t)(tokenizer_image_end - tokenizer_image)) != 0) {
        print_str("llama2: the tokenizer compiled into this firmware is malformed\n");
        return 1;
    }
#endif
    forward_init(1);
    uint64_t rng_state = GENERATION_SEED;
    int steps = GENERATION_STEPS;
    if (steps <= 0 || steps > SEQ_LEN) steps = SEQ_LEN;

#if !EMBED_TOKENIZER
    print_str("P ");
    print_u32((uint32_t)prompt_tokens[0]);
    print_str("\n");
#endif
    uint64_t start = 0, end = 0;
    int token = prompt_tokens[0], pos = 0, timed = 0;
    while (pos < steps) {
        float* logits = forward(token, pos);
        int from_prompt = pos < NUM_PROMPT_TOKENS - 1;
        int next = from_prompt ? prompt_tokens[pos + 1]
                               : sample_next(logits, VOCAB_SIZE, GENERATION_TEMPERATURE, GENERATION_TOPP, sampler_order, &rng_state);
        pos++;
        if (next == 1) { /* BOS ends the sequence, as in run.c */
#if !EMBED_TOKENIZER
            print_token(token, next, 0);
#endif
            break;
        }
        print_token(token, next, from_prompt);
        token = next;
        /* as run.c: time from the end of the first step */
        if (start == 0) start = cycles_now();
        else timed++;
    }
    end = cycles_now();
    print_str("\nachieved tok/s: ");
    print_rate((uint64_t)timed, end - start);
    print_str(" (");
    print_u32((uint32_t)pos);
    print_str(" tokens, ");
    print_u64(timed ? (end - start) / (uint64_t)timed : 0);
    print_str(" cycles per token at ");
    print_u32(RP2040_CLK_SYS_HZ / 1000000u);
    print_str(" MHz)\n");
    return 0;
}
