/*
 * The device side of the serial protocol (doc/protocol.md), written once for every program that
 * serves it: the host program's --protocol mode (stdin/stdout, or a Pi's USB gadget port) and the
 * RP2040 firmware (USB CDC or UART0). The program brings its input, output and clock; the server
 * answers HELLO_REQUEST, runs a GENERATE as run.c would (a TOKEN per position, then a DONE), and
 * while it generates answers HELLO_REQUEST, refuses another GENERATE as BUSY and honours CANCEL.
 */
#ifndef LLAMA2_EMBED_PROTOCOL_SERVER_H
#define LLAMA2_EMBED_PROTOCOL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

typedef struct {
    /* Sends bytes to the host (may block until they are taken). */
    void (*write)(const uint8_t* bytes, size_t length);
    /* Called after each frame, for programs whose writes are buffered (stdio); NULL if not. */
    void (*flush)(void);
    /* The next complete frame or bad frame the host sent, or PROTOCOL_NOTHING; never blocks. */
    protocol_status (*poll)(protocol_event* event);
    /* A microsecond clock: each TOKEN's time and the DONE's total. */
    uint64_t (*now_us)(void);
    /* VOCAB_SIZE entries of scratch for the sampler. */
    int32_t* sampler_order;
} protocol_server;

/* The HELLO: the model's shapes, weights, hash and name, and what the server accepts. */
void protocol_server_hello(const protocol_server* server);

/* An ERROR frame (doc/protocol.md's codes). */
void protocol_server_error(const protocol_server* server, uint8_t code, uint16_t request_id, uint32_t detail);

/* Answers one frame (or bad frame) received while idle; a GENERATE runs to its DONE before it returns. */
void protocol_server_handle(const protocol_server* server, protocol_status status, const protocol_event* event);

#endif
