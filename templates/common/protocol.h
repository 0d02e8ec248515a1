/*
 * The device side of llama2-embed's serial protocol (doc/protocol.md): frames are a type byte, a
 * payload and the CRC-16/CCITT-FALSE of both (little-endian), COBS-encoded, each followed by a
 * 0x00 delimiter. Portable C99 with no malloc and no libc beyond string.h: it builds for the host
 * program, a Raspberry Pi and bare-metal Cortex-M alike.
 *
 * Receiving: feed the bytes one at a time to protocol_decode_byte(); it says when a frame is
 * complete (or bad). Requests are then read with protocol_parse_generate() / _cancel().
 * Sending: protocol_send_*() build a frame in a static buffer and pass the encoded bytes, in
 * pieces, to a write function supplied by the board (UART, USB CDC, stdout). Not reentrant.
 */
#ifndef LLAMA2_EMBED_PROTOCOL_H
#define LLAMA2_EMBED_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION 1

/*
 * The largest frame this device accepts, in decoded bytes (type + payload + CRC); it is also the
 * receive buffer. It bounds the prompt: (PROTOCOL_MAX_FRAME - 3 - 20) / 2 tokens (244 for 512).
 * Define it for every file of the program alike (e.g. -DPROTOCOL_MAX_FRAME=256), from 32 to 65535.
 */
#ifndef PROTOCOL_MAX_FRAME
#define PROTOCOL_MAX_FRAME 512
#endif

/* The largest frame the device sends (a HELLO with the longest names is 146 bytes). */
#define PROTOCOL_MAX_TX_FRAME 160

#define PROTOCOL_GENERATE_FIXED 20 /* GENERATE's payload before the prompt */
#define PROTOCOL_MAX_PROMPT_TOKENS ((PROTOCOL_MAX_FRAME - 3 - PROTOCOL_GENERATE_FIXED) / 2)
#define PROTOCOL_MAX_TARGET_NAME 32
#define PROTOCOL_MAX_MODEL_NAME 64
#define PROTOCOL_MAX_ERROR_MESSAGE 64

/* Frame types: host → device below 0x80, device → host from 0x80. */
enum {
    PROTOCOL_HELLO_REQUEST = 0x01,
    PROTOCOL_GENERATE = 0x02,
    PROTOCOL_CANCEL = 0x03,
    PROTOCOL_HELLO = 0x81,
    PROTOCOL_TOKEN = 0x82,
    PROTOCOL_DONE = 0x83,
    PROTOCOL_ERROR = 0x84
};

/* ERROR codes. */
enum {
    PROTOCOL_ERR_BAD_CRC = 1,
    PROTOCOL_ERR_TRUNCATED = 2,
    PROTOCOL_ERR_OVERSIZED = 3,
    PROTOCOL_ERR_UNKNOWN_TYPE = 4,
    PROTOCOL_ERR_BAD_LENGTH = 5,
    PROTOCOL_ERR_PROMPT_TOO_LONG = 6,
    PROTOCOL_ERR_BAD_PARAMETERS = 7,
    PROTOCOL_ERR_BUSY = 8,
    PROTOCOL_ERR_INTERNAL = 9
};

/* The detail of a BAD_PARAMETERS error: which parameter. */
enum {
    PROTOCOL_BAD_TEMPERATURE = 1,
    PROTOCOL_BAD_TOPP = 2,
    PROTOCOL_BAD_SEED = 3,
    PROTOCOL_BAD_TOKEN_ID = 4
};

/* HELLO's weights precision (mixed: Q8_0 embedding and classifier, Q4_0 layers). */
enum { PROTOCOL_WEIGHTS_F32 = 0, PROTOCOL_WEIGHTS_Q8_0 = 1, PROTOCOL_WEIGHTS_Q4_0 = 2, PROTOCOL_WEIGHTS_MIXED = 3 };

/* DONE's reason. */
enum { PROTOCOL_DONE_STEPS = 0, PROTOCOL_DONE_BOS = 1, PROTOCOL_DONE_CANCELLED = 2, PROTOCOL_DONE_ERROR = 3 };

/* TOKEN's flags. */
#define PROTOCOL_TOKEN_GENERATED 0x01

/* Writes bytes to the host; the board supplies it (it may block until they are sent). */
typedef void (*protocol_write_fn)(const uint8_t* bytes, size_t length);

/* The byte-at-a-time frame decoder. All state is here: one per input stream. */
typedef struct {
    uint8_t buffer[PROTOCOL_MAX_FRAME]; /* the decoded frame so far */
    uint16_t length;                    /* decoded bytes in buffer */
    uint8_t block_left;                 /* data bytes left in the current COBS block; 0 = next is a code byte */
    uint8_t previous_short;             /* the previous block's code was below 0xFF: a 0x00 follows it */
    uint8_t overflow;                   /* the frame outgrew the buffer: drop bytes up to the delimiter */
    uint32_t raw;                       /* encoded bytes since the last delimiter (saturating) */
} protocol_decoder;

/* What protocol_decode_byte() found. */
typedef enum { PROTOCOL_NOTHING = 0, PROTOCOL_FRAME = 1, PROTOCOL_BAD_FRAME = 2 } protocol_status;

typedef struct {
    /* PROTOCOL_FRAME: the type and payload (pointing into the decoder: valid until the next byte) */
    uint8_t type;
    const uint8_t* payload;
    uint16_t length;
    /* PROTOCOL_BAD_FRAME: PROTOCOL_ERR_BAD_CRC, _TRUNCATED or _OVERSIZED, and the encoded bytes dropped */
    uint8_t error;
    uint32_t detail;
} protocol_event;

void protocol_decoder_init(protocol_decoder* d);
protocol_status protocol_decode_byte(protocol_decoder* d, uint8_t byte, protocol_event* event);

/* A GENERATE request; the prompt is copied out of the frame. */
typedef struct {
    uint16_t request_id;
    uint16_t steps; /* 0 = SEQ_LEN; the device clamps it to SEQ_LEN */
    float temperature;
    float topp;
    uint64_t seed;
    uint16_t n_prompt;
} protocol_generate;

/*
 * Reads and checks a GENERATE frame: the prompt goes to `prompt` (room for `max_prompt`
 * tokens). Returns 0, or an error code with *detail set (BAD_LENGTH, PROMPT_TOO_LONG with the
 * limit, BAD_PARAMETERS with the parameter): send it back with protocol_send_error() and
 * g->request_id (read whenever the payload has its first 2 bytes, else 0).
 */
int protocol_parse_generate(const protocol_event* frame, protocol_generate* g, uint16_t* prompt, uint16_t max_prompt,
                            uint32_t vocab_size, uint32_t* detail);

/* Reads a CANCEL frame; returns 0 with *request_id set, or PROTOCOL_ERR_BAD_LENGTH. */
int protocol_parse_cancel(const protocol_event* frame, uint16_t* request_id);

/* What a HELLO says. Names are NUL-terminated ASCII, cut to their maximum lengths. */
typedef struct {
    uint8_t weights; /* PROTOCOL_WEIGHTS_* */
    uint16_t max_prompt_tokens;
    uint16_t max_frame;
    uint8_t model_hash[8];
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, group_size;
    const char* target_name;
    const char* model_name;
} protocol_hello;

/* Senders: each writes one whole frame, delimiter included. */
/* Any frame whose payload fits PROTOCOL_MAX_TX_FRAME - 3 bytes; returns 0, or -1 if it is larger. */
int protocol_send_frame(protocol_write_fn write, uint8_t type, const uint8_t* payload, uint16_t length);
void protocol_send_hello(protocol_write_fn write, const protocol_hello* hello);
void protocol_send_token(protocol_write_fn write, uint16_t request_id, uint16_t position, uint16_t token, uint8_t flags,
                         uint32_t step_us);
void protocol_send_done(protocol_write_fn write, uint16_t request_id, uint8_t reason, uint16_t positions,
                        uint16_t generated, uint64_t total_us);
void protocol_send_error(protocol_write_fn write, uint8_t code, uint16_t request_id, uint32_t detail, const char* message);

/* A lone 0x00: ends whatever partial frame the other side holds (sent before the first HELLO). */
void protocol_send_delimiter(protocol_write_fn write);

/* The CRC-16/CCITT-FALSE of bytes, continuing from crc (start with 0xFFFF). */
uint16_t protocol_crc16(uint16_t crc, const uint8_t* bytes, size_t length);

/* A short ASCII description of an ERROR code (for the ERROR frame's message). */
const char* protocol_error_text(uint8_t code);

#endif
