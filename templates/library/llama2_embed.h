/*
 * llama2_embed.h: a llama2.c model compiled into C, as a library.
 *
 * The model (weights, tokenizer, shapes) is fixed when the library is exported with
 * `llama2-embed export`; this header is the same for every model. The library allocates nothing:
 * its whole state (the KV cache, the activations, the tokenizer's tables) is static storage sized
 * at export time, which l2e_model_info() reports. Every public name starts with l2e_ / L2E_.
 *
 * Threads and interrupts: the library has one state. No function may be called from an interrupt
 * handler, and no two calls may run at the same time from different threads or cores (guard them
 * with one mutex if several threads use it). l2e_model_info() and l2e_strerror() only read
 * constants: they may be called from anywhere, at any time.
 *
 * Typical use:
 *
 *     static int print_piece(const char *piece, int token, void *user) {
 *         (void)token; (void)user;
 *         fputs(piece, stdout);
 *         return 0;                                  // non-zero stops the generation
 *     }
 *     ...
 *     if (l2e_init() != 0) { ... }
 *     l2e_params params = {0};                       // llama2.c's defaults, seed 42
 *     int n = l2e_generate("Once upon a time", &params, print_piece, NULL);
 *     if (n < 0) puts(l2e_strerror(n));
 */
#ifndef LLAMA2_EMBED_H
#define LLAMA2_EMBED_H

#ifdef __cplusplus
extern "C" {
#endif

/* This API's version: a new minor version only adds, a new major one may change what is here. */
#define L2E_API_VERSION_MAJOR 1
#define L2E_API_VERSION_MINOR 0

/* The error codes: every function that can fail returns one of these (negative) or 0 / a count. */
#define L2E_OK 0
#define L2E_E_NOT_INITIALIZED (-1)   /* l2e_init() has not succeeded yet */
#define L2E_E_WEIGHTS (-2)           /* the weights blob is not the one this library was exported with (size or hash) */
#define L2E_E_TOKENIZER (-3)         /* the tokenizer compiled in does not fit the model */
#define L2E_E_ARGUMENT (-4)          /* a NULL pointer, a token outside the vocabulary, a position outside the context */
#define L2E_E_PROMPT_TOO_LONG (-5)   /* the prompt does not fit: more bytes than the context, or more tokens than the context has left */
#define L2E_E_ENCODING (-6)          /* the text needs a byte token beyond the vocabulary */
#define L2E_E_BUFFER_TOO_SMALL (-7)  /* l2e_encode: max_tokens is less than strlen(text) + 3 */
#define L2E_E_CONTEXT_FULL (-8)      /* l2e_generate: every position of the context is used; l2e_reset() */

/* Greedy decoding: the temperature that picks the most likely token every time. */
#define L2E_TEMPERATURE_GREEDY (-1.0f)

/*
 * How l2e_generate samples. A zeroed struct (or a NULL pointer) means llama2.c's run defaults,
 * with a fixed seed since the library has no clock:
 *   steps        0 = 256. Positions to run in this call, the prompt's included (as run.c's -n);
 *                at most what the context has left.
 *   temperature  0 = 1.0. Negative (L2E_TEMPERATURE_GREEDY) = greedy, always the most likely token.
 *   topp         0 = 0.9. Nucleus sampling's p, in (0, 1); 1 or more samples from all tokens.
 *   seed         0 = 42. The xorshift generator's seed (llama2.c's): the same seed gives the same
 *                tokens on every target the library is built for.
 */
typedef struct {
    int steps;
    float temperature;
    float topp;
    unsigned long long seed;
} l2e_params;

/*
 * Called once per generated token with its text (`piece`, NUL-terminated; empty for a byte token
 * that is a NUL byte), its id and the `user` pointer given to l2e_generate. Return non-zero to stop
 * the generation after this token. Runs on the caller's thread, inside l2e_generate: it must not
 * call l2e_generate, l2e_forward, l2e_reset or l2e_init (l2e_decode, l2e_model_info and
 * l2e_strerror are fine).
 */
typedef int (*l2e_token_fn)(const char *piece, int token, void *user);

/* The model compiled in (l2e_model_info). */
typedef struct {
    const char *name;             /* the checkpoint's file name, e.g. "stories260K.bin" */
    unsigned vocab_size;          /* tokens in the vocabulary: l2e_forward's logits are this many floats */
    unsigned seq_len;             /* the context: positions 0 .. seq_len - 1 */
    unsigned dim;                 /* the transformer's width */
    unsigned n_layers;
    const char *quant;            /* "f32", "q8_0", "q4_0" or "mixed", then " integer" for integer arithmetic */
    unsigned long weights_bytes;  /* read-only data: the weights blob */
    unsigned long state_bytes;    /* static RAM: the run state (KV cache, activations) and the tokenizer's tables */
    const char *model_hash;       /* the first 8 bytes of the weights blob's SHA-256, in hex (the serial protocol's HELLO) */
} l2e_info;

/*
 * Checks the weights blob (its size and a 32-bit FNV-1a hash against those recorded at export)
 * and reads the tokenizer into its tables. Call it once before anything else (again is harmless:
 * it checks again and forgets the KV cache, like l2e_reset).
 * Cost: one pass over the weights (a read of weights_bytes) and a sort of the vocabulary.
 * Returns L2E_OK, L2E_E_WEIGHTS or L2E_E_TOKENIZER.
 */
int l2e_init(void);

/*
 * Forgets the KV cache: the next l2e_generate starts a new text at position 0, with BOS.
 * Cost: constant (the cache is overwritten as positions are computed, not cleared).
 */
void l2e_reset(void);

/*
 * Generates text after `prompt` (UTF-8; NULL or "" for none), as llama2.c's run does: the prompt's
 * tokens are run through the model, then tokens are sampled until `steps` positions have run, the
 * context is full, the model emits BOS (id 1, the end of a text), or `on_token` returns non-zero.
 * `on_token` (may be NULL) is called for each generated token, not for the prompt's.
 * After l2e_init or l2e_reset the prompt starts a new text (with BOS, at position 0); otherwise the
 * text continues where the previous call stopped, the KV cache kept, and the prompt (without BOS)
 * follows the last token generated.
 * Cost: one l2e_forward per position, plus sampling (a sort of at most vocab_size candidates).
 * Returns the number of tokens generated (0 or more), or L2E_E_NOT_INITIALIZED,
 * L2E_E_PROMPT_TOO_LONG (the prompt has more bytes than seq_len, or more tokens than the context
 * has left), L2E_E_ENCODING or L2E_E_CONTEXT_FULL. Nothing is changed when it fails.
 */
int l2e_generate(const char *prompt, const l2e_params *params, l2e_token_fn on_token, void *user);

/*
 * Runs the model on `token` at position `pos` and returns the logits: vocab_size floats in static
 * storage, overwritten by the next call. Writes the KV cache at `pos`, and reads it at 0 .. pos - 1:
 * call it for positions 0, 1, 2, ... in order. A following l2e_generate continues after `pos`.
 * Cost: one forward pass of the transformer (about 2 x the number of parameters multiply-adds,
 * plus attention over pos + 1 positions).
 * Returns NULL when the library is not initialized, the token is outside 0 .. vocab_size - 1 or
 * the position outside 0 .. seq_len - 1, and always in a build that keeps no logits (a vocabulary
 * too large for the board's RAM: the classifier runs in row blocks and the build decodes greedily).
 */
const float *l2e_forward(int token, int pos);

/*
 * Encodes UTF-8 `text` into token ids as llama2.c does: BOS (1) first if `bos`, a space before
 * non-empty text, then the vocabulary's merges; EOS (2) last if `eos`. `tokens` needs room for
 * strlen(text) + 3 ids while merging (max_tokens counts them).
 * Cost: about strlen(text)^2 vocabulary look-ups (binary searches) in the worst case.
 * Returns the number of tokens, or L2E_E_NOT_INITIALIZED, L2E_E_ARGUMENT (NULL text or tokens),
 * L2E_E_BUFFER_TOO_SMALL or L2E_E_ENCODING.
 */
int l2e_encode(const char *text, int bos, int eos, int *tokens, int max_tokens);

/*
 * The text of `token` when it follows `prev_token` (the leading space is dropped after BOS; a
 * byte token "<0x41>" is the byte itself), NUL-terminated, in static storage that stays valid.
 * Cost: constant.
 * Returns "" when the library is not initialized or a token is outside the vocabulary.
 */
const char *l2e_decode(int prev_token, int token);

/* The model compiled in. Constant data: may be called at any time, from any thread or interrupt. */
const l2e_info *l2e_model_info(void);

/*
 * What an error code means, in a sentence ("no error" for 0, "unknown error" for a code not
 * listed above). Constant data: may be called at any time, from any thread or interrupt.
 */
const char *l2e_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
