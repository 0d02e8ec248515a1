/*
 * The library's API (llama2_embed.c) in the RP2040 firmware: main.c generates its baked text
 * through llama2_embed.h, and its protocol server also calls forward() itself, so the internal
 * names keep their short form here (an exported library prefixes them with l2e_).
 */
#ifndef L2E_PRIVATE_H
#define L2E_PRIVATE_H

#include "generation.h"

/* build-info.json records the image's SHA-256, which flash checks: no pass over the weights at reset */
#define L2E_SKIP_WEIGHTS_CHECK 1

/* the baked prompt is tokenized at build time: l2e_generate_tokens */
#define L2E_TOKEN_PROMPTS 1

/* without --embed-tokenizer the firmware prints token ids, which the host decodes */
#if !EMBED_TOKENIZER
#define L2E_NO_TOKENIZER 1
#include "llama2_embed.h"

/* l2e_generate on the tokens of a prompt (BOS first), from position 0 (llama2_embed.c) */
int l2e_generate_tokens(const int *tokens, int n, const l2e_params *params, l2e_token_fn on_token, void *user);

#endif

/* one sampler scratch (VOCAB_SIZE words of SRAM) for the library and the protocol server: main.c's */
#define L2E_SHARED_SAMPLER_ORDER firmware_sampler_order

#include "llama2_embed.h"

/* l2e_generate on the tokens of a prompt (BOS first), from position 0 (llama2_embed.c) */
int l2e_generate_tokens(const int *tokens, int n, const l2e_params *params, l2e_token_fn on_token, void *user);

#endif
