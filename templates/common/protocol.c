/*
 * The device side of llama2-embed's serial protocol: see protocol.h and doc/protocol.md.
 * Written from the definitions of COBS (Cheshire and Baker, 1999) and CRC-16/CCITT-FALSE
 * (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR).
 */
#include "protocol.h"

#include <string.h>

#if PROTOCOL_MAX_FRAME < 32 || PROTOCOL_MAX_FRAME > 65535
#error "PROTOCOL_MAX_FRAME must be from 32 to 65535"
#endif

/* ------------------------------------------------------------------------------------------ */
/* CRC */

uint16_t protocol_crc16(uint16_t crc, const uint8_t* bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        crc ^= (uint16_t)(bytes[i] << 8);
        for (int bit = 0; bit < 8; bit++) crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* ------------------------------------------------------------------------------------------ */
/* Little-endian fields */

static uint16_t get_u16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get_u32(const uint8_t* p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get_u64(const uint8_t* p) { return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32); }

static float get_f32(const uint8_t* p) {
    uint32_t bits = get_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint8_t* put_u8(uint8_t* p, uint8_t v) {
    *p = v;
    return p + 1;
}

static uint8_t* put_u16(uint8_t* p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t* put_u32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t* put_u64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* Copies at most max bytes of a NUL-terminated string; returns the end. */
static uint8_t* put_text(uint8_t* p, const char* text, size_t max) {
    size_t n = text ? strlen(text) : 0;
    if (n > max) n = max;
    if (n) memcpy(p, text, n);
    return p + n;
}

/* ------------------------------------------------------------------------------------------ */
/* Receiving */

void protocol_decoder_init(protocol_decoder* d) {
    d->length = 0;
    d->block_left = 0;
    d->previous_short = 0;
    d->overflow = 0;
    d->raw = 0;
}

static void append(protocol_decoder* d, uint8_t byte) {
    if (d->length == PROTOCOL_MAX_FRAME) d->overflow = 1;
    else d->buffer[d->length++] = byte;
}

/*
 * COBS decoded on the fly: a code byte c starts a block of c - 1 data bytes; unless c is 0xFF,
 * the block is followed by a 0x00, written when the next block starts (the one after the last
 * block is not part of the data). A 0x00 on the wire ends the frame.
 */
protocol_status protocol_decode_byte(protocol_decoder* d, uint8_t byte, protocol_event* event) {
    if (byte != 0) {
        if (d->raw != 0xFFFFFFFFu) d->raw++;
        if (d->overflow) return PROTOCOL_NOTHING;
        if (d->block_left == 0) {
            if (d->raw > 1 && d->previous_short) append(d, 0);
            d->previous_short = byte != 0xFF;
            d->block_left = (uint8_t)(byte - 1);
        } else {
            append(d, byte);
            d->block_left--;
        }
        return PROTOCOL_NOTHING;
    }
    if (d->raw == 0) return PROTOCOL_NOTHING; /* delimiters between frames */

    protocol_status status = PROTOCOL_BAD_FRAME;
    event->detail = d->raw;
    if (d->overflow) {
        event->error = PROTOCOL_ERR_OVERSIZED;
    } else if (d->block_left != 0 || d->length < 3) {
        event->error = PROTOCOL_ERR_TRUNCATED;
    } else {
        uint16_t end = (uint16_t)(d->length - 2);
        if (protocol_crc16(0xFFFF, d->buffer, end) != get_u16(d->buffer + end)) {
            event->error = PROTOCOL_ERR_BAD_CRC;
        } else {
            status = PROTOCOL_FRAME;
            event->type = d->buffer[0];
            event->payload = d->buffer + 1;
            event->length = (uint16_t)(end - 1);
            event->error = 0;
            event->detail = 0;
        }
    }
    /* The payload stays in the buffer until the next byte is fed. */
    d->length = 0;
    d->block_left = 0;
    d->previous_short = 0;
    d->overflow = 0;
    d->raw = 0;
    return status;
}

/* x is neither NaN nor infinite (no math.h: NaN differs from itself, inf - inf is NaN) */
static int finite_float(float x) { return x == x && (x - x) == 0.0f; }

int protocol_parse_generate(const protocol_event* frame, protocol_generate* g, uint16_t* prompt, uint16_t max_prompt,
                            uint32_t vocab_size, uint32_t* detail) {
    uint16_t n = frame->length;
    const uint8_t* p = frame->payload;
    *detail = n;
    g->request_id = n >= 2 ? get_u16(p) : 0; /* for the ERROR, even when the rest is bad */
    if (n < PROTOCOL_GENERATE_FIXED + 2 || (n - PROTOCOL_GENERATE_FIXED) % 2 != 0) return PROTOCOL_ERR_BAD_LENGTH;
    g->steps = get_u16(p + 2);
    g->temperature = get_f32(p + 4);
    g->topp = get_f32(p + 8);
    g->seed = get_u64(p + 12);
    g->n_prompt = (uint16_t)((n - PROTOCOL_GENERATE_FIXED) / 2);
    if (g->n_prompt > max_prompt) {
        *detail = max_prompt;
        return PROTOCOL_ERR_PROMPT_TOO_LONG;
    }
    *detail = PROTOCOL_BAD_TEMPERATURE;
    if (!finite_float(g->temperature) || g->temperature < 0.0f) return PROTOCOL_ERR_BAD_PARAMETERS;
    *detail = PROTOCOL_BAD_TOPP;
    if (!(g->topp >= 0.0f && g->topp <= 1.0f)) return PROTOCOL_ERR_BAD_PARAMETERS;
    *detail = PROTOCOL_BAD_SEED;
    if (g->seed == 0) return PROTOCOL_ERR_BAD_PARAMETERS;
    *detail = PROTOCOL_BAD_TOKEN_ID;
    for (uint16_t i = 0; i < g->n_prompt; i++) {
        prompt[i] = get_u16(p + PROTOCOL_GENERATE_FIXED + 2 * i);
        if (prompt[i] >= vocab_size) return PROTOCOL_ERR_BAD_PARAMETERS;
    }
    *detail = 0;
    return 0;
}

int protocol_parse_cancel(const protocol_event* frame, uint16_t* request_id) {
    if (frame->length != 2) return PROTOCOL_ERR_BAD_LENGTH;
    *request_id = get_u16(frame->payload);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Sending */

/* The frame being built: type, payload, CRC. */
static uint8_t tx[PROTOCOL_MAX_TX_FRAME];

/*
 * COBS: the data, seen as followed by one 0x00, is cut after each 0x00 and after each run of 254
 * non-zero bytes (unless the data ends there); each block goes out as its number of non-zero
 * bytes + 1 (the code byte), then those bytes. The blocks are written straight from the frame.
 */
static void write_cobs(protocol_write_fn write, const uint8_t* data, size_t n) {
    size_t start = 0;
    for (;;) {
        size_t run = 0;
        while (start + run < n && data[start + run] != 0 && run < 254) run++;
        uint8_t code = (uint8_t)(run + 1);
        write(&code, 1);
        if (run) write(data + start, run);
        if (run == 254) { /* a full block: no 0x00 follows it */
            start += run;
            if (start == n) break; /* and the data ends with it */
            continue;
        }
        start += run + 1;
        if (start > n) break;
    }
    static const uint8_t delimiter = 0;
    write(&delimiter, 1);
}

/* Adds the CRC to the frame built in tx (type and payload: `length` bytes) and sends it. */
static void send_tx(protocol_write_fn write, size_t length) {
    uint16_t crc = protocol_crc16(0xFFFF, tx, length);
    put_u16(tx + length, crc);
    write_cobs(write, tx, length + 2);
}

int protocol_send_frame(protocol_write_fn write, uint8_t type, const uint8_t* payload, uint16_t length) {
    if ((size_t)length + 3 > sizeof tx) return -1;
    tx[0] = type;
    if (length) memcpy(tx + 1, payload, length);
    send_tx(write, (size_t)length + 1);
    return 0;
}

void protocol_send_delimiter(protocol_write_fn write) {
    static const uint8_t delimiter = 0;
    write(&delimiter, 1);
}

void protocol_send_hello(protocol_write_fn write, const protocol_hello* h) {
    uint8_t* p = tx;
    p = put_u8(p, PROTOCOL_HELLO);
    p = put_u8(p, PROTOCOL_VERSION);
    p = put_u8(p, h->weights);
    p = put_u16(p, h->max_prompt_tokens);
    p = put_u16(p, h->max_frame);
    memcpy(p, h->model_hash, 8);
    p += 8;
    p = put_u32(p, h->dim);
    p = put_u32(p, h->hidden_dim);
    p = put_u32(p, h->n_layers);
    p = put_u32(p, h->n_heads);
    p = put_u32(p, h->n_kv_heads);
    p = put_u32(p, h->vocab_size);
    p = put_u32(p, h->seq_len);
    p = put_u32(p, h->group_size);
    uint8_t* name_length = p++;
    uint8_t* name = p;
    p = put_text(p, h->target_name, PROTOCOL_MAX_TARGET_NAME);
    *name_length = (uint8_t)(p - name);
    p = put_text(p, h->model_name, PROTOCOL_MAX_MODEL_NAME);
    send_tx(write, (size_t)(p - tx));
}

void protocol_send_token(protocol_write_fn write, uint16_t request_id, uint16_t position, uint16_t token, uint8_t flags,
                         uint32_t step_us) {
    uint8_t* p = tx;
    p = put_u8(p, PROTOCOL_TOKEN);
    p = put_u16(p, request_id);
    p = put_u16(p, position);
    p = put_u16(p, token);
    p = put_u8(p, flags);
    p = put_u32(p, step_us);
    send_tx(write, (size_t)(p - tx));
}

void protocol_send_done(protocol_write_fn write, uint16_t request_id, uint8_t reason, uint16_t positions,
                        uint16_t generated, uint64_t total_us) {
    uint8_t* p = tx;
    p = put_u8(p, PROTOCOL_DONE);
    p = put_u16(p, request_id);
    p = put_u8(p, reason);
    p = put_u16(p, positions);
    p = put_u16(p, generated);
    p = put_u64(p, total_us);
    send_tx(write, (size_t)(p - tx));
}

void protocol_send_error(protocol_write_fn write, uint8_t code, uint16_t request_id, uint32_t detail, const char* message) {
    uint8_t* p = tx;
    p = put_u8(p, PROTOCOL_ERROR);
    p = put_u8(p, code);
    p = put_u16(p, request_id);
    p = put_u32(p, detail);
    p = put_text(p, message ? message : protocol_error_text(code), PROTOCOL_MAX_ERROR_MESSAGE);
    send_tx(write, (size_t)(p - tx));
}

const char* protocol_error_text(uint8_t code) {
    switch (code) {
    case PROTOCOL_ERR_BAD_CRC: return "bad frame: CRC mismatch";
    case PROTOCOL_ERR_TRUNCATED: return "bad frame: cut short";
    case PROTOCOL_ERR_OVERSIZED: return "bad frame: larger than the receive buffer";
    case PROTOCOL_ERR_UNKNOWN_TYPE: return "unknown frame type";
    case PROTOCOL_ERR_BAD_LENGTH: return "wrong payload length for the frame type";
    case PROTOCOL_ERR_PROMPT_TOO_LONG: return "prompt too long";
    case PROTOCOL_ERR_BAD_PARAMETERS: return "bad generation parameters";
    case PROTOCOL_ERR_BUSY: return "busy: a generation is running";
    case PROTOCOL_ERR_INTERNAL: return "internal error";
    default: return "error";
    }
}
