/*
 * The library's API (llama2_embed.h) over the generated forward pass and the tokenizer: the
 * generation loop of llama2.c's run.c, with the position kept between calls so that a text can
 * be continued. All storage is static: nothing is allocated.
 */
#include "l2e_private.h"

#include <stdint.h>
#include <string.h>

#include "llama2_embed.h"
#include "blobs.h"
#include "forward.h"
#include "model.h"
#ifndef L2E_NO_TOKENIZER
#include "tokenizer.h"
#endif

#define BOS 1
#define DEFAULT_STEPS 256
#define DEFAULT_TEMPERATURE 1.0f
#define DEFAULT_TOPP 0.9f
#define DEFAULT_SEED 42ull /* there is no clock to seed from: a fixed seed, as llama2-embed's firmware */

static int initialized;
static int position;        /* positions of the KV cache in use: the next token runs at this one */
static int pending = -1;    /* the token to run at `position` (the last one generated), or -1 */
/* the longest prompt l2e_generate takes, in bytes (a program may allow more than the context) */
#ifndef L2E_MAX_PROMPT_BYTES
#define L2E_MAX_PROMPT_BYTES SEQ_LEN
#endif

#ifndef L2E_NO_TOKENIZER
static int prompt_tokens[L2E_MAX_PROMPT_BYTES + 4]; /* the pending token, then the prompt's: strlen + 3 while merging */
#define PROMPT_TOKENS_BYTES sizeof prompt_tokens
#else
#define PROMPT_TOKENS_BYTES 0 /* a program without the tokenizer (l2e_private.h) takes no text */
#endif
#ifdef L2E_SHARED_SAMPLER_ORDER
/* the program's sampler scratch (l2e_private.h), which its protocol server uses too: SRAM is short */
extern int32_t L2E_SHARED_SAMPLER_ORDER[SAMPLER_ORDER_SIZE];
#define sampler_order L2E_SHARED_SAMPLER_ORDER
#else
static int32_t sampler_order[SAMPLER_ORDER_SIZE];
#endif

static const l2e_info info = {
    MODEL_NAME,
    VOCAB_SIZE,
    SEQ_LEN,
    DIM,
    N_LAYERS,
    QUANT_NAME,
    WEIGHTS_BYTES,
    STATE_BYTES + PROMPT_TOKENS_BYTES + sizeof sampler_order,
    MODEL_HASH_HEX,
};

#ifndef L2E_SKIP_WEIGHTS_CHECK
/* 32-bit FNV-1a: cheap enough for a core without a multiplier of more than 32 bits. */
static uint32_t fnv1a(const unsigned char *bytes, unsigned long length) {
    uint32_t hash = 2166136261u;
    for (unsigned long i = 0; i < length; i++) {
        hash ^= bytes[i];
        hash *= 16777619u;
    }
    return hash;
}
#endif

int l2e_init(void) {
    initialized = 0;
    if (model_weights_bytes != WEIGHTS_BYTES) return L2E_E_WEIGHTS;
#ifndef L2E_SKIP_WEIGHTS_CHECK
    if (fnv1a(model_weights, WEIGHTS_BYTES) != WEIGHTS_FNV1A) return L2E_E_WEIGHTS;
#endif
#if !defined(L2E_NO_TOKENIZER) && !TOKENIZER_TABLES
    /* a firmware's tables (TOKENIZER_TABLES) were built and checked at build time: nothing to parse */
    if (tokenizer_init(tokenizer_image, tokenizer_image_bytes) != 0) return L2E_E_TOKENIZER;
#endif
    forward_init(1);
    initialized = 1;
    l2e_reset();
    return L2E_OK;
}

void l2e_reset(void) {
    position = 0;
    pending = -1;
}

/* A zeroed field means llama2.c's default (llama2_embed.h). */
static void sampling_from(const l2e_params *params, int *steps, float *temperature, float *topp, uint64_t *seed) {
    l2e_params p = {0, 0.0f, 0.0f, 0};
    if (params) p = *params;
    *steps = p.steps > 0 ? p.steps : DEFAULT_STEPS;
    *temperature = p.temperature == 0.0f ? DEFAULT_TEMPERATURE : p.temperature < 0.0f ? 0.0f : p.temperature;
    *topp = p.topp > 0.0f ? p.topp : DEFAULT_TOPP;
    *seed = p.seed != 0 ? (uint64_t)p.seed : DEFAULT_SEED;
}

/* Runs tokens[0 .. n - 1] from `position` and samples after them, as run.c's loop (l2e_generate). */
static int run_tokens(const int *tokens, int n, const l2e_params *params, l2e_token_fn on_token, void *user) {
    int steps;
    float temperature, topp;
    uint64_t rng_state;
    sampling_from(params, &steps, &temperature, &topp, &rng_state);
    int end = steps < SEQ_LEN - position ? position + steps : SEQ_LEN;

    int pos = position, next = 0, generated = 0, stop = 0;
    int token = tokens[0];
    for (int i = 0; pos < end && !stop; i++) {
        float *logits = forward(token, pos);
        int from_prompt = i < n - 1;
        next = from_prompt ? tokens[i + 1] : sample_logits(logits, temperature, topp, sampler_order, &rng_state);
        pos++;
        if (!from_prompt) {
            generated++;
            if (next == BOS) { /* the end of a text, as in run.c: reported with no text */
                if (on_token) on_token("", next, user);
                token = next;
                break;
            }
            if (on_token) stop = on_token(l2e_decode(token, next), next, user) != 0;
        }
        token = next;
    }
    position = pos;
    pending = token;
    return generated;
}

int l2e_generate(const char *prompt, const l2e_params *params, l2e_token_fn on_token, void *user) {
    if (!initialized) return L2E_E_NOT_INITIALIZED;
#ifdef L2E_NO_TOKENIZER
    (void)prompt;
    (void)params;
    (void)on_token;
    (void)user;
    return L2E_E_TOKENIZER;
#else
    if (position >= SEQ_LEN) return L2E_E_CONTEXT_FULL;
    if (!prompt) prompt = "";
    if (strlen(prompt) > L2E_MAX_PROMPT_BYTES) return L2E_E_PROMPT_TOO_LONG;

    /* the tokens to run: what the last call generated, then the prompt (with BOS for a new text) */
    int n = 0;
    if (pending >= 0) prompt_tokens[n++] = pending;
    int encoded = tokenizer_encode(prompt, position == 0, 0, prompt_tokens + n);
    if (encoded < 0) return L2E_E_ENCODING;
    n += encoded;
    if (n == 0) return 0; /* after l2e_forward, with no prompt: nothing to run */
    if (position + n > SEQ_LEN) return L2E_E_PROMPT_TOO_LONG;
    return run_tokens(prompt_tokens, n, params, on_token, user);
#endif
}

#ifdef L2E_TOKEN_PROMPTS
/*
 * For llama2-embed's own programs only (l2e_private.h), not part of the API: l2e_generate on a
 * prompt already tokenized (BOS first), which starts a new text at position 0. A firmware's baked
 * prompt is tokenized at build time, by a host that may keep the tokenizer to itself.
 */
int l2e_generate_tokens(const int *tokens, int n, const l2e_params *params, l2e_token_fn on_token, void *user) {
    if (!initialized) return L2E_E_NOT_INITIALIZED;
    if (!tokens || n < 1) return L2E_E_ARGUMENT;
    if (n > SEQ_LEN) return L2E_E_PROMPT_TOO_LONG;
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= VOCAB_SIZE) return L2E_E_ARGUMENT;
    }
    l2e_reset();
    return run_tokens(tokens, n, params, on_token, user);
}
#endif

const float *l2e_forward(int token, int pos) {
    if (!initialized || token < 0 || token >= VOCAB_SIZE || pos < 0 || pos >= SEQ_LEN) return NULL;
    const float *logits = forward(token, pos);
    position = pos + 1;
    pending = -1;
    return logits;
}

int l2e_encode(const char *text, int bos, int eos, int *tokens, int max_tokens) {
    if (!initialized) return L2E_E_NOT_INITIALIZED;
#ifdef L2E_NO_TOKENIZER
    (void)text;
    (void)bos;
    (void)eos;
    (void)tokens;
    (void)max_tokens;
    return L2E_E_TOKENIZER;
#else
    if (!text || !tokens) return L2E_E_ARGUMENT;
    if (max_tokens < 0 || strlen(text) + 3 > (size_t)max_tokens) return L2E_E_BUFFER_TOO_SMALL;
    int n = tokenizer_encode(text, bos != 0, eos != 0, tokens);
    return n < 0 ? L2E_E_ENCODING : n;
#endif
}

const char *l2e_decode(int prev_token, int token) {
    if (!initialized || prev_token < 0 || prev_token >= VOCAB_SIZE || token < 0 || token >= VOCAB_SIZE) return "";
#ifdef L2E_NO_TOKENIZER
    return ""; /* the host decodes: the token ids are what the program prints */
#else
    size_t length;
    return tokenizer_decode(prev_token, token, &length);
#endif
}

const l2e_info *l2e_model_info(void) {
    return &info;
}

const char *l2e_strerror(int code) {
    switch (code) {
    case L2E_OK: return "no error";
    case L2E_E_NOT_INITIALIZED: return "the library is not initialized: call l2e_init() first";
    case L2E_E_WEIGHTS: return "the weights blob is not the one the library was exported with (size or hash)";
    case L2E_E_TOKENIZER: return "the tokenizer compiled in does not fit the model";
    case L2E_E_ARGUMENT: return "an argument is NULL or out of range";
    case L2E_E_PROMPT_TOO_LONG: return "the prompt does not fit the context (more bytes than seq_len, or more tokens than the context has left)";
    case L2E_E_ENCODING: return "the text needs a byte token beyond the vocabulary";
    case L2E_E_BUFFER_TOO_SMALL: return "the token buffer is too small: it needs room for strlen(text) + 3 ids";
    case L2E_E_CONTEXT_FULL: return "the context is full: call l2e_reset() to start a new text";
    default: return "unknown error";
    }
}
