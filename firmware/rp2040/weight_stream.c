/*
 * Streaming the weights (weight_stream.h): the XIP block's stream FIFO reads a segment of flash a
 * word at a time through the SSI, bypassing the cache, with lower priority than the cache's misses
 * (RP2040 datasheet 2.6.3.4); DMA channel 11, paced by DREQ_XIP_STREAM, moves each word from the
 * FIFO (XIP_AUX, the fast bus) into the ring. When a segment is complete the channel's interrupt
 * starts the next one if the ring has room, so the stream keeps going while the core computes
 * (attention, the norms) as well as while it waits.
 *
 * The ring holds segments whole, one after the other, wrapping to the start when the next one
 * does not fit at the end; the space of the oldest segment not released yet is never written.
 */
#include "weight_stream.h"

#include "rp2040.h"

#define WS_CHANNEL 11u
#define DMA_BASE 0x50000000u
#define DMA_CH(reg) (DMA_BASE + WS_CHANNEL * 0x40u + (reg))
#define DMA_READ_ADDR 0x0u
#define DMA_WRITE_ADDR 0x4u
#define DMA_TRANS_COUNT 0x8u
#define DMA_CTRL_TRIG 0xcu
#define DMA_INTE0 (DMA_BASE + 0x404u)
#define DMA_INTS0 (DMA_BASE + 0x40cu)
#define DMA_CTRL_EN (1u << 0)
#define DMA_CTRL_SIZE_WORD (2u << 2)
#define DMA_CTRL_INCR_WRITE (1u << 5)
#define DMA_CTRL_CHAIN_TO(ch) ((ch) << 11)
#define DMA_CTRL_TREQ(dreq) ((dreq) << 15)
#define DREQ_XIP_STREAM 37u
#define DMA_IRQ_0_NUMBER 11u
#define RESETS_DMA (1u << 2)

#define XIP_CTRL_BASE 0x14000000u
#define XIP_STREAM_ADDR (XIP_CTRL_BASE + 0x14u)
#define XIP_STREAM_CTR (XIP_CTRL_BASE + 0x18u)
#define XIP_AUX_BASE 0x50400000u

/* segments in the ring (or streaming) at once, at most */
#define SLOTS 64u

static const WeightSegment* segments;
static uint32_t segment_count;
static uint8_t* ring;
static uint32_t ring_bytes;
static uint32_t head;                 /* where the next segment goes */
static uint32_t slot_offset[SLOTS];   /* where segment n (mod SLOTS) is in the ring */
static uint32_t next_fetch;           /* segments started so far */
static volatile uint32_t fetched;     /* segments complete in SRAM */
static volatile uint32_t streaming;   /* a segment is on its way */
static uint32_t taken;                /* segments handed to the forward pass */
static uint32_t released;             /* segments whose space is free again */

/* Where a segment of `bytes` can go, or -1 while the ring has no room for it. */
static int32_t place(uint32_t bytes) {
    if (released == next_fetch) return bytes <= ring_bytes ? 0 : -1; /* empty */
    uint32_t tail = slot_offset[released % SLOTS];
    if (head > tail) {
        if (head + bytes <= ring_bytes) return (int32_t)head;
        return bytes < tail ? 0 : -1; /* wrap; strictly less, so that the head never meets the tail */
    }
    return head + bytes < tail ? (int32_t)head : -1;
}

/* Starts the next segment if none is streaming and it has room (interrupts off, or in the handler). */
static void pump(void) {
    if (streaming || next_fetch - released >= SLOTS) return;
    const WeightSegment* s = &segments[next_fetch % segment_count];
    int32_t at = place(s->bytes);
    if (at < 0) return;
    slot_offset[next_fetch % SLOTS] = (uint32_t)at;
    head = (uint32_t)at + s->bytes;
    next_fetch++;
    streaming = 1;
    REG(DMA_CH(DMA_READ_ADDR)) = XIP_AUX_BASE;
    REG(DMA_CH(DMA_WRITE_ADDR)) = (uint32_t)(uintptr_t)(ring + at);
    REG(DMA_CH(DMA_TRANS_COUNT)) = s->bytes / 4u;
    REG(DMA_CH(DMA_CTRL_TRIG)) =
        DMA_CTRL_EN | DMA_CTRL_SIZE_WORD | DMA_CTRL_INCR_WRITE | DMA_CTRL_CHAIN_TO(WS_CHANNEL) | DMA_CTRL_TREQ(DREQ_XIP_STREAM);
    REG(XIP_STREAM_ADDR) = (uint32_t)(uintptr_t)s->src;
    REG(XIP_STREAM_CTR) = s->bytes / 4u;
}

/* The channel finished a segment: it is in SRAM; start the next. */
void DMA_IRQ_0(void) {
    REG(DMA_INTS0) = 1u << WS_CHANNEL;
    streaming = 0;
    fetched = next_fetch;
    pump();
}

void weight_stream_init(const WeightSegment* table, int count, uint8_t* buffer, uint32_t bytes) {
    segments = table;
    segment_count = (uint32_t)count;
    ring = buffer;
    ring_bytes = bytes;
    REG_CLR(RESETS_RESET, RESETS_DMA);
    while (!(REG(RESETS_RESET_DONE) & RESETS_DMA)) {
    }
    REG_SET(DMA_INTE0, 1u << WS_CHANNEL);
    REG(M0PLUS_NVIC_ICPR) = 1u << DMA_IRQ_0_NUMBER;
    REG(M0PLUS_NVIC_ISER) = 1u << DMA_IRQ_0_NUMBER;
    uint32_t primask = interrupts_off();
    pump();
    interrupts_restore(primask);
}

const void* weight_stream_take(void) {
    uint32_t n = taken++;
    while ((int32_t)(fetched - n) <= 0) {
        /* not started for want of room (released since)? start it; then the interrupt brings it */
        uint32_t primask = interrupts_off();
        pump();
        interrupts_restore(primask);
    }
    return ring + slot_offset[n % SLOTS];
}

void weight_stream_release(void) {
    uint32_t primask = interrupts_off();
    released = taken;
    pump();
    interrupts_restore(primask);
}
