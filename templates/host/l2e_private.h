/*
 * The library's API (llama2_embed.c) in llama2-embed's own programs: main.c generates through
 * llama2_embed.h, and its protocol mode also calls forward() and the tokenizer itself, so the
 * internal names keep their short form here (an exported library prefixes them with l2e_).
 */
#ifndef L2E_PRIVATE_H
#define L2E_PRIVATE_H

/* build-info.json records the program's SHA-256, which run and flash check: no second pass over the weights at start-up */
#define L2E_SKIP_WEIGHTS_CHECK 1

/* run's prompts may be longer than the context (its tokens stop at -n), up to main.c's 4096 bytes */
#define L2E_MAX_PROMPT_BYTES 4096

#endif
