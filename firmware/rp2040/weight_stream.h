/*
 * weight_stream.h — the weights a forward pass reads, streamed from flash into an SRAM ring by
 * DMA from the XIP stream FIFO while the core computes (doc/rp2040.md, "Streaming the weights").
 *
 * The forward pass reads its streamed matrices in an order known at build time: a table of
 * segments (flash address, bytes), one token's worth, repeated token after token. The stream runs
 * ahead of the core as far as the ring has room: weight_stream_take() waits for the next segment
 * and returns where it is in SRAM; weight_stream_release() gives back the ring space of every
 * segment taken so far.
 */
#ifndef WEIGHT_STREAM_H
#define WEIGHT_STREAM_H

#include <stdint.h>

typedef struct {
    const void* src; /* in flash (the XIP window), word-aligned */
    uint32_t bytes;  /* a multiple of 4 */
} WeightSegment;

/* Starts streaming `segments` (in the order they will be taken, `count` of them, repeating) into
 * `ring` (word-aligned, `ring_bytes` long, at least the two largest segments taken together). */
void weight_stream_init(const WeightSegment* segments, int count, uint8_t* ring, uint32_t ring_bytes);

/* The next segment, once it is in SRAM. */
const void* weight_stream_take(void);

/* Every segment taken so far has been read: the stream may overwrite them. */
void weight_stream_release(void);

#endif
