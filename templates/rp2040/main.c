/*
 * llama2-embed firmware for the RP2040 (Raspberry Pi Pico): the model compiled into it, talking
 * over UART0 (GP0 TX, GP1 RX, 115200 8N1).
 *
 * At reset, the generation baked in at build time (generation.h), printed as it goes: with the
 * tokenizer embedded (--embed-tokenizer), the text, like llama2.c run; otherwise `P <id>` /
 * `G <id>` lines for the host to decode. Then a statistics line:
 *   achieved tok/s: 12.34 (N tokens, C cycles per token at F MHz)
 * A build with `-n 0` has no baked generation.
 *
 * Then the serial protocol of doc/protocol.md, forever: a lone 0x00 and a HELLO, and the host's
 * requests (llama2-embed monitor): HELLO_REQUEST → HELLO, GENERATE → a TOKEN per position with
 * the microseconds it took and a DONE, CANCEL between two positions, an ERROR for what cannot be
 * read. UART0 is polled (uart_getc never blocks) between positions, so a host can cancel. A
 * valid frame received during the baked generation ends it: the host is served at once.
 *
 * EXIT_AFTER_GENERATION (generation.h; the tests' firmware) returns from main() after the baked
 * generation instead: rp2040_exit() ends with a BKPT, where the emulator stops.
 * The runtime (firmware/rp2040: boot2, clocks, UART, timer) runs before main().
 */
#include <stdint.h>
#include <string.h>

#include "forward.h"
#include "generation.h"
#include "kernels.h"
#include "model.h"
#include "protocol.h"
#include "rp2040.h"

#if EMBED_TOKENIZER
#include "tokenizer.h"
extern const unsigned char tokenizer_image[];
extern const unsigned char tokenizer_image_end[];
#endif

#if SEQ_LEN > 65535
#error "the protocol's positions are 16-bit: SEQ_LEN must be at most 65535"
#endif

#ifdef MODEL_HASH
static const uint8_t model_hash[8] = MODEL_HASH;
#else
static const uint8_t model_hash[8] = {0};
#endif

#define MAX_PROTOCOL_PROMPT (PROTOCOL_MAX_PROMPT_TOKENS < SEQ_LEN ? PROTOCOL_MAX_PROMPT_TOKENS : SEQ_LEN)
#define BOS_TOKEN 1

static int32_t sampler_order[VOCAB_SIZE];
static protocol_decoder decoder;
static uint16_t protocol_prompt[MAX_PROTOCOL_PROMPT];

/* ---------------------------------------------------------------------------------------------
 * The host's frames, from UART0.
 */

static void write_uart(const uint8_t* bytes, size_t length) { uart_write(bytes, length); }

/* Decodes what UART0 has received; the first frame or bad frame completed, else PROTOCOL_NOTHING. */
static protocol_status poll_host(protocol_event* event) {
    int c;
    while ((c = uart_getc()) >= 0) {
        protocol_status status = protocol_decode_byte(&decoder, (uint8_t)c, event);
        if (status != PROTOCOL_NOTHING) return status;
    }
    return PROTOCOL_NOTHING;
}

static uint8_t weights_code(void) {
    if (strcmp(WEIGHTS_SCHEME, "q8_0") == 0) return PROTOCOL_WEIGHTS_Q8_0;
    if (strcmp(WEIGHTS_SCHEME, "q4_0") == 0) return PROTOCOL_WEIGHTS_Q4_0;
    if (strcmp(WEIGHTS_SCHEME, "mixed") == 0) return PROTOCOL_WEIGHTS_MIXED;
    return PROTOCOL_WEIGHTS_F32;
}

static void send_hello(void) {
    protocol_hello hello;
    memset(&hello, 0, sizeof hello);
    hello.weights = weights_code();
#ifdef GROUP_SIZE
    hello.group_size = GROUP_SIZE;
#endif
    hello.max_prompt_tokens = MAX_PROTOCOL_PROMPT;
    hello.max_frame = PROTOCOL_MAX_FRAME;
    memcpy(hello.model_hash, model_hash, sizeof model_hash);
    hello.dim = DIM;
    hello.hidden_dim = HIDDEN_DIM;
    hello.n_layers = N_LAYERS;
    hello.n_heads = N_HEADS;
    hello.n_kv_heads = N_KV_HEADS;
    hello.vocab_size = VOCAB_SIZE;
    hello.seq_len = SEQ_LEN;
    hello.target_name = "rp2040";
    hello.model_name = MODEL_NAME;
    protocol_send_hello(write_uart, &hello);
}

static void send_error(uint8_t code, uint16_t request_id, uint32_t detail) {
    protocol_send_error(write_uart, code, request_id, detail, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * The generation baked in at build time.
 */

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

#if GENERATION_STEPS != 0
static const int prompt_tokens[] = GENERATION_PROMPT_TOKENS;
#define NUM_PROMPT_TOKENS ((int)(sizeof prompt_tokens / sizeof prompt_tokens[0]))

/* Runs and prints the baked generation. Returns 1 if a frame from the host cut it short: the
 * frame is in *request (valid until the next byte is decoded). */
static int run_baked_generation(protocol_event* request) {
    uint64_t rng_state = GENERATION_SEED;
    int steps = GENERATION_STEPS;
    if (steps < 0 || steps > SEQ_LEN) steps = SEQ_LEN;

#if !EMBED_TOKENIZER
    print_str("P ");
    print_u32((uint32_t)prompt_tokens[0]);
    print_str("\n");
#endif
    uint64_t start = 0, end = 0;
    int token = prompt_tokens[0], pos = 0, timed = 0, interrupted = 0;
    while (pos < steps) {
        float* logits = forward(token, pos);
        int from_prompt = pos < NUM_PROMPT_TOKENS - 1;
        int next = from_prompt ? prompt_tokens[pos + 1]
                               : sample_next(logits, VOCAB_SIZE, GENERATION_TEMPERATURE, GENERATION_TOPP, sampler_order, &rng_state);
        pos++;
        if (next == BOS_TOKEN) { /* BOS ends the sequence, as in run.c */
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
        /* a host is talking to the board: give way to it (bad frames are ignored here: this is text) */
        if (poll_host(request) == PROTOCOL_FRAME) {
            interrupted = 1;
            break;
        }
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
    return interrupted;
}
#endif

/* ---------------------------------------------------------------------------------------------
 * The protocol (doc/protocol.md): the host tokenizes, the board generates.
 */

/*
 * A frame that arrived while generating request `running`: HELLO_REQUEST is answered, CANCEL
 * (of this request, or 0) sets *cancel, another GENERATE is refused as BUSY.
 */
static void handle_while_generating(protocol_status status, const protocol_event* e, uint16_t running, int* cancel) {
    if (status == PROTOCOL_BAD_FRAME) {
        send_error(e->error, 0, e->detail);
        return;
    }
    uint16_t id;
    switch (e->type) {
    case PROTOCOL_HELLO_REQUEST: send_hello(); break;
    case PROTOCOL_GENERATE: send_error(PROTOCOL_ERR_BUSY, e->length >= 2 ? (uint16_t)(e->payload[0] | (e->payload[1] << 8)) : 0, running); break;
    case PROTOCOL_CANCEL:
        if (protocol_parse_cancel(e, &id) != 0) send_error(PROTOCOL_ERR_BAD_LENGTH, 0, e->length);
        else if (id == 0 || id == running) *cancel = 1;
        break;
    default: send_error(PROTOCOL_ERR_UNKNOWN_TYPE, 0, e->type); break;
    }
}

/* Runs a GENERATE as run.c would: a TOKEN per position (with the microseconds it took), then a DONE. */
static void serve_generate(const protocol_event* request) {
    uint64_t start = timer_us();
    protocol_generate g;
    uint32_t detail;
    int refused = protocol_parse_generate(request, &g, protocol_prompt, MAX_PROTOCOL_PROMPT, VOCAB_SIZE, &detail);
    if (refused) {
        send_error((uint8_t)refused, g.request_id, detail);
        return;
    }
    int steps = (g.steps == 0 || g.steps > SEQ_LEN) ? SEQ_LEN : g.steps; /* as run.c */
    uint64_t rng_state = g.seed;
    int token = protocol_prompt[0], pos = 0, next, generated = 0, cancel = 0;
    uint8_t reason = PROTOCOL_DONE_STEPS;
    protocol_send_token(write_uart, g.request_id, 0, (uint16_t)token, 0, 0);
    while (pos < steps) {
        uint64_t step_start = timer_us();
        float* logits = forward(token, pos);
        int from_prompt = pos < g.n_prompt - 1;
        next = from_prompt ? protocol_prompt[pos + 1] : sample_next(logits, VOCAB_SIZE, g.temperature, g.topp, sampler_order, &rng_state);
        pos++;
        if (!from_prompt) generated++;
        protocol_send_token(write_uart, g.request_id, (uint16_t)pos, (uint16_t)next, from_prompt ? 0 : PROTOCOL_TOKEN_GENERATED,
                            (uint32_t)(timer_us() - step_start));
        if (next == BOS_TOKEN) { /* BOS ends the sequence, as in run.c */
            reason = PROTOCOL_DONE_BOS;
            break;
        }
        token = next;
        protocol_event e;
        protocol_status status;
        while ((status = poll_host(&e)) != PROTOCOL_NOTHING) handle_while_generating(status, &e, g.request_id, &cancel);
        if (cancel) {
            reason = PROTOCOL_DONE_CANCELLED;
            break;
        }
    }
    protocol_send_done(write_uart, g.request_id, reason, (uint16_t)pos, (uint16_t)generated, timer_us() - start);
}

static void handle_frame(protocol_status status, const protocol_event* e) {
    if (status == PROTOCOL_BAD_FRAME) {
        send_error(e->error, 0, e->detail);
        return;
    }
    uint16_t id;
    switch (e->type) {
    case PROTOCOL_HELLO_REQUEST: send_hello(); break;
    case PROTOCOL_GENERATE: serve_generate(e); break;
    case PROTOCOL_CANCEL: /* nothing is running: nothing to cancel */
        if (protocol_parse_cancel(e, &id) != 0) send_error(PROTOCOL_ERR_BAD_LENGTH, 0, e->length);
        break;
    default: send_error(PROTOCOL_ERR_UNKNOWN_TYPE, 0, e->type); break;
    }
}

/* Serves the host forever. `first`: a frame already received (it is answered instead of an unasked HELLO). */
static void serve_forever(const protocol_event* first) {
    protocol_send_delimiter(write_uart); /* ends whatever the host's decoder holds */
    if (first) handle_frame(PROTOCOL_FRAME, first);
    else send_hello();
    for (;;) {
        protocol_event e;
        protocol_status status = poll_host(&e);
        if (status != PROTOCOL_NOTHING) handle_frame(status, &e);
    }
}

int main(void) {
#if EMBED_TOKENIZER
    if (tokenizer_init(tokenizer_image, (size_t)(tokenizer_image_end - tokenizer_image)) != 0) {
        print_str("llama2: the tokenizer compiled into this firmware is malformed\n");
        return 1;
    }
#endif
    forward_init(1);
    protocol_decoder_init(&decoder);
    protocol_event request;
    int interrupted = 0;
#if GENERATION_STEPS != 0
    interrupted = run_baked_generation(&request);
#endif
#if EXIT_AFTER_GENERATION
    (void)interrupted;
    (void)request;
    return 0;
#else
    serve_forever(interrupted ? &request : NULL);
    return 0;
#endif
}
