/* The model's forward pass (generated forward.c). */
#ifndef LLAMA2_EMBED_FORWARD_H
#define LLAMA2_EMBED_FORWARD_H

#include <stdint.h>

/* Starts `threads` - 1 worker threads for the matmuls (1 = none). */
void forward_init(int threads);

/* Runs the model on `token` at position `pos`; returns the VOCAB_SIZE logits (static storage). */
float* forward(int token, int pos);

/* The next token from the last forward()'s logits (llama2.c run.c `sample`): greedy at temperature
 * 0, else top-p or multinomial with one draw of the RNG at `rng_state`. A float build samples the
 * float32 logits (kernel sampleNext); an integer build its Q16.16 logits with integer weights
 * (kernel sampleNextFixed). Overwrites the logits; `order` is scratch of VOCAB_SIZE entries. */
int sample_logits(float* logits, float temperature, float topp, int32_t* order, uint64_t* rng_state);

#endif
