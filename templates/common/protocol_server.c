/*
 * The device side of the serial protocol (protocol_server.h): one copy for the host program and
 * the RP2040 firmware, which differ only in how bytes come and go and what their clock is.
 */
#include <string.h>

#include "forward.h"
#include "model.h"
#include "protocol_server.h"

#if SEQ_LEN > 65535
#error "the protocol's positions are 16-bit: SEQ_LEN must be at most 65535"
#endif

#ifdef MODEL_HASH
static const uint8_t model_hash[8] = MODEL_HASH;
#else
static const uint8_t model_hash[8] = {0};
#endif

#ifndef TARGET_NAME
#define TARGET_NAME "host"
#endif

#define MAX_PROTOCOL_PROMPT (PROTOCOL_MAX_PROMPT_TOKENS < SEQ_LEN ? PROTOCOL_MAX_PROMPT_TOKENS : SEQ_LEN)
#define BOS_TOKEN 1 /* sampled, it ends the text, as in run.c */

static uint16_t protocol_prompt[MAX_PROTOCOL_PROMPT];

static void frame_sent(const protocol_server* server) {
    if (server->flush) server->flush();
}

static uint8_t weights_code(void) {
    if (strcmp(QUANT_SCHEME, "q8_0") == 0) return PROTOCOL_WEIGHTS_Q8_0;
    if (strcmp(QUANT_SCHEME, "q4_0") == 0) return PROTOCOL_WEIGHTS_Q4_0;
    if (strcmp(QUANT_SCHEME, "mixed") == 0) return PROTOCOL_WEIGHTS_MIXED;
    return PROTOCOL_WEIGHTS_F32;
}

void protocol_server_hello(const protocol_server* server) {
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
    hello.target_name = TARGET_NAME;
    hello.model_name = MODEL_NAME;
    protocol_send_hello(server->write, &hello);
    frame_sent(server);
}

void protocol_server_error(const protocol_server* server, uint8_t code, uint16_t request_id, uint32_t detail) {
    protocol_send_error(server->write, code, request_id, detail, NULL);
    frame_sent(server);
}

static void serve_generate(const protocol_server* server, const protocol_event* request);

/*
 * Answers one frame. Idle (`cancel` NULL), a GENERATE runs to its DONE; while request `running`
 * generates, another GENERATE is refused as BUSY and a CANCEL of it (or of 0) sets *cancel.
 * HELLO_REQUEST is answered either way; with nothing running, a CANCEL has nothing to cancel.
 */
static void dispatch(const protocol_server* server, protocol_status status, const protocol_event* e, uint16_t running, int* cancel) {
    if (status == PROTOCOL_BAD_FRAME) {
        protocol_server_error(server, e->error, 0, e->detail);
        return;
    }
    uint16_t id;
    switch (e->type) {
    case PROTOCOL_HELLO_REQUEST: protocol_server_hello(server); break;
    case PROTOCOL_GENERATE:
        if (!cancel) serve_generate(server, e);
        else protocol_server_error(server, PROTOCOL_ERR_BUSY, e->length >= 2 ? (uint16_t)(e->payload[0] | (e->payload[1] << 8)) : 0, running);
        break;
    case PROTOCOL_CANCEL:
        if (protocol_parse_cancel(e, &id) != 0) protocol_server_error(server, PROTOCOL_ERR_BAD_LENGTH, 0, e->length);
        else if (cancel && (id == 0 || id == running)) *cancel = 1;
        break;
    default: protocol_server_error(server, PROTOCOL_ERR_UNKNOWN_TYPE, 0, e->type); break;
    }
}

/* Runs a GENERATE as run.c would: a TOKEN per position (with the microseconds it took), then a
 * DONE whose total runs from the request's arrival. */
static void serve_generate(const protocol_server* server, const protocol_event* request) {
    uint64_t start = server->now_us();
    protocol_generate g;
    uint32_t detail;
    int refused = protocol_parse_generate(request, &g, protocol_prompt, MAX_PROTOCOL_PROMPT, VOCAB_SIZE, &detail);
    if (refused) {
        protocol_server_error(server, (uint8_t)refused, g.request_id, detail);
        return;
    }
    int steps = (g.steps == 0 || g.steps > SEQ_LEN) ? SEQ_LEN : g.steps; /* as run.c */
    uint64_t rng_state = g.seed;
    int token = protocol_prompt[0], pos = 0, next, generated = 0, cancel = 0;
    uint8_t reason = PROTOCOL_DONE_STEPS;
    protocol_send_token(server->write, g.request_id, 0, (uint16_t)token, 0, 0);
    frame_sent(server);
    while (pos < steps) {
        uint64_t step_start = server->now_us();
        float* logits = forward(token, pos);
        int from_prompt = pos < g.n_prompt - 1;
        next = from_prompt ? protocol_prompt[pos + 1] : sample_logits(logits, g.temperature, g.topp, server->sampler_order, &rng_state);
        pos++;
        if (!from_prompt) generated++;
        protocol_send_token(server->write, g.request_id, (uint16_t)pos, (uint16_t)next, from_prompt ? 0 : PROTOCOL_TOKEN_GENERATED,
                            (uint32_t)(server->now_us() - step_start));
        frame_sent(server);
        if (next == BOS_TOKEN) {
            reason = PROTOCOL_DONE_BOS;
            break;
        }
        token = next;
        protocol_event e;
        protocol_status status;
        while ((status = server->poll(&e)) != PROTOCOL_NOTHING) dispatch(server, status, &e, g.request_id, &cancel);
        if (cancel) {
            reason = PROTOCOL_DONE_CANCELLED;
            break;
        }
    }
    protocol_send_done(server->write, g.request_id, reason, (uint16_t)pos, (uint16_t)generated, server->now_us() - start);
    frame_sent(server);
}

void protocol_server_handle(const protocol_server* server, protocol_status status, const protocol_event* e) {
    dispatch(server, status, e, 0, NULL);
}
