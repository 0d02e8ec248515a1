/* The model's forward pass (generated forward.c). */
#ifndef LLAMA2_EMBED_FORWARD_H
#define LLAMA2_EMBED_FORWARD_H

/* Starts `threads` - 1 worker threads for the matmuls (1 = none). */
void forward_init(int threads);

/* Runs the model on `token` at position `pos`; returns the VOCAB_SIZE logits (static storage). */
float* forward(int token, int pos);

#endif
