/*
 * Test harness for templates/common/protocol.c, built by test/serial/c-device.spec.ts.
 *
 *   harness decode MAX_PROMPT VOCAB < stream     one line per event of the device's decoder:
 *       F <type> <payload hex>                   a frame
 *       E <code> <detail>                        a bad frame
 *     after a GENERATE frame:  G ok <id> <steps> <temperature bits> <topp bits> <seed> <tokens...>
 *                              G err <code> <detail> <id>
 *     after a CANCEL frame:    C ok <id>  |  C err <code>
 *   harness encode < commands                    the frames of the commands, on stdout:
 *       frame <type> <payload hex>
 *       hello <weights> <max_prompt> <max_frame> <hash hex> <dim> <hidden> <layers> <heads> <kv_heads>
 *             <vocab> <seq_len> <group> <target hex> <model hex>
 *       token <id> <position> <token> <flags> <us>
 *       done <id> <reason> <positions> <generated> <total_us>
 *       error <code> <id> <detail> <message hex>
 *     ("-" is an empty hex string.)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

static protocol_decoder decoder;

static void print_hex(const uint8_t* p, size_t n) {
    if (n == 0) printf("-");
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}

static size_t parse_hex(const char* text, uint8_t* out, size_t max) {
    if (strcmp(text, "-") == 0) return 0;
    size_t n = strlen(text) / 2;
    if (n > max) exit(3);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(text + 2 * i, "%2x", &v) != 1) exit(3);
        out[i] = (uint8_t)v;
    }
    return n;
}

static int decode(uint16_t max_prompt, uint32_t vocab) {
    static uint16_t prompt[65535];
    int c;
    while ((c = getchar()) != EOF) {
        protocol_event e;
        protocol_status s = protocol_decode_byte(&decoder, (uint8_t)c, &e);
        if (s == PROTOCOL_BAD_FRAME) printf("E %u %" PRIu32 "\n", e.error, e.detail);
        if (s != PROTOCOL_FRAME) continue;
        printf("F %u ", e.type);
        print_hex(e.payload, e.length);
        printf("\n");
        if (e.type == PROTOCOL_GENERATE) {
            protocol_generate g;
            uint32_t detail;
            int err = protocol_parse_generate(&e, &g, prompt, max_prompt, vocab, &detail);
            if (err) {
                printf("G err %d %" PRIu32 " %u\n", err, detail, g.request_id);
                continue;
            }
            uint32_t t, p;
            memcpy(&t, &g.temperature, 4);
            memcpy(&p, &g.topp, 4);
            printf("G ok %u %u %08" PRIx32 " %08" PRIx32 " %" PRIu64, g.request_id, g.steps, t, p, g.seed);
            for (int i = 0; i < g.n_prompt; i++) printf(" %u", prompt[i]);
            printf("\n");
        } else if (e.type == PROTOCOL_CANCEL) {
            uint16_t id;
            int err = protocol_parse_cancel(&e, &id);
            if (err) printf("C err %d\n", err);
            else printf("C ok %u\n", id);
        }
    }
    return 0;
}

static void write_stdout(const uint8_t* bytes, size_t length) { fwrite(bytes, 1, length, stdout); }

static int encode(void) {
    static char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        char kind[16], a[1024], b[1024];
        unsigned long v[12];
        uint8_t bytes[600];
        if (sscanf(line, "%15s", kind) != 1) continue;
        if (strcmp(kind, "frame") == 0) {
            if (sscanf(line, "%*s %lu %1023s", &v[0], a) != 2) return 2;
            size_t n = parse_hex(a, bytes, sizeof bytes);
            if (protocol_send_frame(write_stdout, (uint8_t)v[0], bytes, (uint16_t)n) != 0) fprintf(stderr, "refused\n");
        } else if (strcmp(kind, "hello") == 0) {
            char hash[64];
            if (sscanf(line, "%*s %lu %lu %lu %63s %lu %lu %lu %lu %lu %lu %lu %lu %1023s %1023s", &v[0], &v[1], &v[2], hash, &v[3], &v[4],
                       &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], a, b) != 14)
                return 2;
            protocol_hello h;
            h.weights = (uint8_t)v[0];
            h.max_prompt_tokens = (uint16_t)v[1];
            h.max_frame = (uint16_t)v[2];
            parse_hex(hash, h.model_hash, 8);
            h.dim = (uint32_t)v[3];
            h.hidden_dim = (uint32_t)v[4];
            h.n_layers = (uint32_t)v[5];
            h.n_heads = (uint32_t)v[6];
            h.n_kv_heads = (uint32_t)v[7];
            h.vocab_size = (uint32_t)v[8];
            h.seq_len = (uint32_t)v[9];
            h.group_size = (uint32_t)v[10];
            static char target[128], model[128];
            target[parse_hex(a, (uint8_t*)target, 100)] = 0;
            model[parse_hex(b, (uint8_t*)model, 100)] = 0;
            h.target_name = target;
            h.model_name = model;
            protocol_send_hello(write_stdout, &h);
        } else if (strcmp(kind, "token") == 0) {
            if (sscanf(line, "%*s %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5) return 2;
            protocol_send_token(write_stdout, (uint16_t)v[0], (uint16_t)v[1], (uint16_t)v[2], (uint8_t)v[3], (uint32_t)v[4]);
        } else if (strcmp(kind, "done") == 0) {
            unsigned long long total;
            if (sscanf(line, "%*s %lu %lu %lu %lu %llu", &v[0], &v[1], &v[2], &v[3], &total) != 5) return 2;
            protocol_send_done(write_stdout, (uint16_t)v[0], (uint8_t)v[1], (uint16_t)v[2], (uint16_t)v[3], (uint64_t)total);
        } else if (strcmp(kind, "error") == 0) {
            if (sscanf(line, "%*s %lu %lu %lu %1023s", &v[0], &v[1], &v[2], a) != 4) return 2;
            static char message[128];
            message[parse_hex(a, (uint8_t*)message, 100)] = 0;
            protocol_send_error(write_stdout, (uint8_t)v[0], (uint16_t)v[1], (uint32_t)v[2], message);
        } else {
            return 2;
        }
    }
    return 0;
}

int main(int argc, char** argv) {
    protocol_decoder_init(&decoder);
    if (argc == 4 && strcmp(argv[1], "decode") == 0) return decode((uint16_t)atoi(argv[2]), (uint32_t)strtoul(argv[3], NULL, 10));
    if (argc == 2 && strcmp(argv[1], "encode") == 0) return encode();
    fprintf(stderr, "usage: harness decode MAX_PROMPT VOCAB | harness encode\n");
    return 2;
}
