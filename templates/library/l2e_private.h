/*
 * Included first by every source of the library (the exporter puts the #include at the top of
 * each .c file). The forward pass, the tokenizer and the thread stand-in are shared with
 * llama2-embed's own programs, where their names are short; here each external name gets the
 * l2e_ prefix, so that a program linking the library keeps `forward`, `tokenizer_init` and the
 * like for itself. Nothing here is part of the API: use llama2_embed.h.
 */
#ifndef L2E_PRIVATE_H
#define L2E_PRIVATE_H

/* forward.h (forward.c) */
#define forward_init l2e_internal_forward_init
#define forward l2e_internal_forward
#define sample_logits l2e_internal_sample_logits
/* forward.c's state and weights, which forward_parallel.c reads too (the names of its wrappers and
 * of the kernels both files call depend on the model: #defined at the top of both files) */
#define forward_state l2e_internal_forward_state
#define forward_weights l2e_internal_forward_weights
/* parallel.h (parallel.c: one thread) */
#define parallel_init l2e_internal_parallel_init
#define parallel_worth l2e_internal_parallel_worth
#define parallel_rows l2e_internal_parallel_rows
/* tokenizer.h (tokenizer.c) */
#define tokenizer_init l2e_internal_tokenizer_init
#define tokenizer_error l2e_internal_tokenizer_error
#define tokenizer_encode l2e_internal_tokenizer_encode
#define tokenizer_decode l2e_internal_tokenizer_decode
/* blobs.h (weights.c, tokenizer_image.c) */
#define model_weights l2e_internal_model_weights
#define model_weights_bytes l2e_internal_model_weights_bytes
#define tokenizer_image l2e_internal_tokenizer_image
#define tokenizer_image_bytes l2e_internal_tokenizer_image_bytes

/*
 * On a Cortex-M0+ llama2-embed's firmware takes its int8 dot products from a loop in assembly
 * (firmware/rp2040/dot_q8.S) that is not part of the library: the kernels' portable C computes
 * the same sums (integer sums are exact in any order).
 */
#if defined(__ARM_ARCH_6M__) && !defined(LLAMA2_EMBED_NO_INTRINSICS)
#define LLAMA2_EMBED_NO_INTRINSICS 1
#endif

/*
 * Exact float32: the kernels spell out float32 rounding, and a compiler that fused a * b + c
 * into one multiply-add (GCC does in its default GNU modes on cores with an FMA: Cortex-M4F,
 * ESP32) would round differently from llama2.c. The build files say -ffp-contract=off too; this
 * holds where they cannot (Arduino).
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#endif
