/*
 * weight-stream — the runtime's weight stream (firmware/rp2040/weight_stream.c) against the flash
 * it streams: a table of segments of several sizes and places (some taken two at a time, as a
 * matmul takes a block's values and scales), taken round after round through an 8 KiB ring that
 * they fill and wrap around many times; every byte taken must equal the flash's, read through XIP.
 * Prints `key=value` lines for test/firmware/weight-stream.spec.ts.
 */
#include <stdint.h>
#include <string.h>

#include "rp2040.h"
#include "weight_stream.h"

#define FLASH(offset) ((const void*)(uintptr_t)(0x10000000u + (offset)))
#define ROUNDS 6

static const WeightSegment segments[] = {
    {FLASH(0), 4096}, {FLASH(256), 128},   /* taken together */
    {FLASH(1000), 2752}, {FLASH(4), 344},  /* together */
    {FLASH(6000), 64},                      /* alone */
    {FLASH(12), 4}, {FLASH(2048), 8},       /* together */
    {FLASH(100), 6000},                     /* alone, most of the ring */
};
/* how many segments each step takes before it releases them */
static const int takes[] = {2, 2, 1, 2, 1};
#define STEPS (sizeof takes / sizeof takes[0])

static _Alignas(4) uint8_t ring[8192];

int main(void) {
    uint32_t checked = 0, mismatches = 0;
    weight_stream_init(segments, sizeof segments / sizeof segments[0], ring, sizeof ring);
    for (int round = 0; round < ROUNDS; round++) {
        int next = 0;
        for (unsigned step = 0; step < STEPS; step++) {
            for (int t = 0; t < takes[step]; t++, next++) {
                const uint8_t* got = weight_stream_take();
                const WeightSegment* s = &segments[next];
                checked++;
                if (got < ring || got + s->bytes > ring + sizeof ring || memcmp(got, s->src, s->bytes) != 0) {
                    mismatches++;
                    print_str("mismatch round=");
                    print_i32(round);
                    print_str(" segment=");
                    print_i32(next);
                    print_str("\n");
                }
            }
            weight_stream_release();
        }
    }
    print_str("checked=");
    print_u32(checked);
    print_str("\nmismatches=");
    print_u32(mismatches);
    print_str("\n");
    rp2040_exit(0);
}
