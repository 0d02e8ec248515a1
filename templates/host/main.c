/*
 * llama2-embed host program: generates text with the model compiled into it, taking llama2.c
 * run's flags. Everything the model needs is in static storage sized at generation time (model.h);
 * only this file's command-line handling is hand-written.
 *
 *   ./llama2 -i "Once upon a time" -n 256 -t 0.8 -p 0.9 -s 42 [--format text|ids]
 *   ./llama2 --protocol     the framed binary protocol of doc/protocol.md on stdin/stdout
 *   ./llama2 --protocol --serial-device /dev/ttyGS0    the same on a serial device (a Pi's USB gadget port)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, poll */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "forward.h"
#include "llama2_embed.h"
#include "protocol.h"
#include "protocol_server.h"
#include "tokenizer.h"

/* tokenizer.bin, linked in by blobs.S */
extern const unsigned char tokenizer_image[];
extern const unsigned char tokenizer_image_end[];

#define MAX_PROMPT_BYTES 4096
static int prompt_tokens[MAX_PROMPT_BYTES + 3 + SEQ_LEN]; /* the prompt's, then (for --dump-logits) the generated ones */
static int32_t sampler_order[SAMPLER_ORDER_SIZE]; /* the protocol server's sampler scratch */

/* below this the tokens came too fast for the clock to tell their rate */
#define MIN_MEASURED_US 5000.0

/* "achieved tok/s: 123.45", as run.c, or "n/a" when the time was too short to measure */
static void print_tok_s(int tokens, double elapsed_us) {
    if (elapsed_us < MIN_MEASURED_US) {
        fprintf(stderr, "achieved tok/s: n/a (%d tokens in under %.0f ms, too short to measure)\n", tokens, MIN_MEASURED_US / 1000);
    } else {
        fprintf(stderr, "achieved tok/s: %.2f\n", tokens / elapsed_us * 1e6);
    }
}

static void usage(void) {
    fprintf(stderr,
            "Usage:   llama2 [options]\n"
            "Example: llama2 -i \"Once upon a time\" -n 256 -t 0.8 -p 0.9 -s 42\n"
            "Options:\n"
            "  -t <float>  temperature in [0,inf], default 1.0 (0 = greedy)\n"
            "  -p <float>  p value in top-p (nucleus) sampling in [0,1], default 0.9\n"
            "  -s <int>    random seed, default time(NULL)\n"
            "  -n <int>    number of steps to run for, default 256; 0 = max_seq_len (%d)\n"
            "  -i <string> input prompt\n"
            "  --format text|ids   text (default), or P <id> / G <id> lines\n"
            "  --dump-logits <n>   print the logits of the first n positions as float32 bits (for tests)\n"
            "  --threads <n>       matmul threads (default %d)\n"
            "  --protocol          serve generation requests in the binary protocol on stdin/stdout\n"
            "  --serial-device <path>  with --protocol: on this serial device (raw, 115200 8N1) instead\n",
            SEQ_LEN, DEFAULT_THREADS);
    exit(EXIT_FAILURE);
}

static void fail(const char* message, const char* detail) {
    fprintf(stderr, "llama2: %s%s\n", message, detail ? detail : "");
    exit(EXIT_FAILURE);
}

#ifdef LLAMA2_EMBED_DOTPROD
/*
 * Built for the Pi 5 (targets/rpi5.json): the int8 dot products use SDOT, which a Pi 4 or a
 * Pi Zero 2 does not have. Checked before anything else runs, to refuse instead of dying of SIGILL.
 */
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
static void require_dot_product(void) {
    if (!(getauxval(AT_HWCAP) & HWCAP_ASIMDDP)) {
        fail("this program was built for rpi5 (dot product instructions); this CPU lacks them: build with --target rpi4 "
             "(--target rpi-zero2 for a Pi Zero 2)", NULL);
    }
}
#endif

/* ---------------------------------------------------------------------------------------------
 * --protocol: the host tokenizes; this program receives GENERATE frames on stdin and streams
 * TOKEN frames and a DONE to stdout (doc/protocol.md), as a board does over its serial port, until
 * stdin closes. The server is the firmware's (protocol_server.c); this file gives it stdin,
 * stdout and a clock.
 */

static protocol_decoder decoder;
static uint8_t input[4096];
static size_t input_next, input_end;
static int input_closed;

static uint64_t time_in_us(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (uint64_t)time.tv_sec * 1000000u + (uint64_t)time.tv_nsec / 1000u;
}

static void write_stdout(const uint8_t* bytes, size_t length) { fwrite(bytes, 1, length, stdout); }

/* Reads what stdin has (waiting for it if `wait`); 0 when nothing came, or stdin is closed. */
static int read_input(int wait) {
    if (input_closed) return 0;
    if (!wait) {
        struct pollfd ready = {0, POLLIN, 0};
        if (poll(&ready, 1, 0) <= 0) return 0;
    }
    ssize_t n;
    do n = read(0, input, sizeof input);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        input_closed = 1;
        return 0;
    }
    input_next = 0;
    input_end = (size_t)n;
    return 1;
}

/* The next frame or bad frame from stdin, or PROTOCOL_NOTHING when there is none (yet, if !wait). */
static protocol_status next_event(protocol_event* event, int wait) {
    for (;;) {
        while (input_next < input_end) {
            protocol_status status = protocol_decode_byte(&decoder, input[input_next++], event);
            if (status != PROTOCOL_NOTHING) return status;
        }
        if (!read_input(wait)) return PROTOCOL_NOTHING;
    }
}

/* The server's view of stdin and stdout (protocol_server.h). */
static protocol_status poll_input(protocol_event* event) { return next_event(event, 0); }
static void flush_stdout(void) { fflush(stdout); }
static const protocol_server server = {write_stdout, flush_stdout, poll_input, time_in_us, sampler_order};

/*
 * --serial-device PATH: the protocol on a serial device instead of stdin/stdout (a Pi Zero's USB
 * gadget port, /dev/ttyGS0, run by a systemd service): opened raw, 8N1 at 115200 baud (a USB
 * gadget port ignores the rate), and put in place of stdin and stdout.
 */
static void open_serial_device(const char* path) {
    int fd = open(path, O_RDWR | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "llama2: cannot open %s: %s\n", path, strerror(errno));
        exit(EXIT_FAILURE);
    }
    struct termios tty;
    if (tcgetattr(fd, &tty) == 0) {
        tty.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
        tty.c_oflag &= ~(tcflag_t)OPOST;
        tty.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        tty.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB);
        tty.c_cflag |= CS8 | CREAD | CLOCAL;
        tty.c_cc[VMIN] = 1;
        tty.c_cc[VTIME] = 0;
        cfsetispeed(&tty, B115200);
        cfsetospeed(&tty, B115200);
        if (tcsetattr(fd, TCSANOW, &tty) != 0) {
            fprintf(stderr, "llama2: cannot set %s to raw mode: %s\n", path, strerror(errno));
            exit(EXIT_FAILURE);
        }
    } /* not a terminal (a pipe, a file, in tests): used as it is */
    if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0) {
        fprintf(stderr, "llama2: cannot use %s: %s\n", path, strerror(errno));
        exit(EXIT_FAILURE);
    }
    if (fd > 1) close(fd);
}

static int serve_protocol(void) {
    protocol_decoder_init(&decoder);
    protocol_send_delimiter(write_stdout); /* ends whatever the host's decoder holds */
    protocol_server_hello(&server);
    protocol_event e;
    protocol_status status;
    while ((status = next_event(&e, 1)) != PROTOCOL_NOTHING) protocol_server_handle(&server, status, &e);
    return 0; /* stdin closed */
}

/* ---------------------------------------------------------------------------------------------
 * Plain mode: generation through the library's API (llama2_embed.h), as a program using an
 * exported library does.
 */

typedef struct {
    int ids_format;
    int count;
    int tokens[SEQ_LEN]; /* the generated tokens, for --dump-logits */
} Printer;

/* A token's text. The API's pieces are C strings: the byte token <0x00> (id 3, as run.c's byte
 * fallback numbers the bytes) is the NUL byte it stands for. */
static void print_piece(const char* piece, int token) {
    if (token == 3 && piece[0] == '\0') fputc('\0', stdout);
    else fputs(piece, stdout);
    fflush(stdout);
}

static int print_token(const char* piece, int token, void* user) {
    Printer* printer = user;
    printer->tokens[printer->count++] = token;
    if (printer->ids_format) printf("G %d\n", token);
    else if (token != 1) print_piece(piece, token); /* BOS ends the text, as in run.c: not printed */
    return 0;
}

int main(int argc, char** argv) {
    float temperature = 1.0f, topp = 0.9f;
    unsigned long long rng_seed = 0;
    int steps = 256, ids_format = 0, dump_logits = 0, threads = DEFAULT_THREADS, protocol = 0;
    const char* prompt = "";
    const char* serial_device = NULL;
#ifdef LLAMA2_EMBED_DOTPROD
    require_dot_product();
#endif

    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--protocol") == 0) { /* the one flag without a value */
            protocol = 1;
            i--;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char* flag = argv[i];
        const char* value = argv[i + 1];
        if (strcmp(flag, "-t") == 0) temperature = (float)atof(value);
        else if (strcmp(flag, "-p") == 0) topp = (float)atof(value);
        else if (strcmp(flag, "-s") == 0) rng_seed = strtoull(value, NULL, 10);
        else if (strcmp(flag, "-n") == 0) steps = atoi(value);
        else if (strcmp(flag, "-i") == 0) prompt = value;
        else if (strcmp(flag, "--format") == 0) {
            if (strcmp(value, "ids") == 0) ids_format = 1;
            else if (strcmp(value, "text") != 0) fail("--format must be text or ids, got ", value);
        } else if (strcmp(flag, "--dump-logits") == 0) dump_logits = atoi(value);
        else if (strcmp(flag, "--threads") == 0) threads = atoi(value);
        else if (strcmp(flag, "--serial-device") == 0) serial_device = value;
        else usage();
    }
    /* the same corrections as run.c */
    if (rng_seed <= 0) rng_seed = (unsigned int)time(NULL);
    if (temperature < 0.0f) temperature = 0.0f;
    if (topp < 0.0f || 1.0f < topp) topp = 0.9f;
    if (steps <= 0 || steps > SEQ_LEN) steps = SEQ_LEN;
    if (threads < 1) threads = 1;
    if (strlen(prompt) > MAX_PROMPT_BYTES) fail("the prompt is too long for this program (at most 4096 bytes)", NULL);
    if (serial_device && !protocol) fail("--serial-device goes with --protocol", NULL);
    if (protocol) {
        if (serial_device) open_serial_device(serial_device);
        forward_init(threads);
        return serve_protocol();
    }

    int tokenizer_status = tokenizer_init(tokenizer_image, (size_t)(tokenizer_image_end - tokenizer_image));
    if (tokenizer_status != 0) { /* checked here too, for the reason in words (l2e_init only says L2E_E_TOKENIZER) */
        fail("the tokenizer compiled into this program does not fit its model: ", tokenizer_error(tokenizer_status));
    }
    int status = l2e_init();
    if (status != L2E_OK) fail(l2e_strerror(status), NULL);
    forward_init(threads); /* l2e_init starts none; the workers are this program's */
    int num_prompt_tokens = l2e_encode(prompt, 1, 0, prompt_tokens, MAX_PROMPT_BYTES + 3);
    if (num_prompt_tokens < 0) fail("cannot encode the prompt: ", l2e_strerror(num_prompt_tokens));
    if (ids_format) {
        for (int i = 0; i < num_prompt_tokens; i++) printf("P %d\n", prompt_tokens[i]);
    } else {
        /* the prompt's text as run.c prints it, the token of each position run after the first */
        for (int i = 1; i < num_prompt_tokens && i <= steps; i++) print_piece(l2e_decode(prompt_tokens[i - 1], prompt_tokens[i]), prompt_tokens[i]);
    }

    /* run's flags in l2e_params, where 0 means the default: greedy is a negative temperature, and
     * top-p 0 (sample from every token) is top-p 1 */
    l2e_params params = {steps, temperature == 0.0f ? L2E_TEMPERATURE_GREEDY : temperature, topp == 0.0f ? 1.0f : topp, rng_seed};
    static Printer printer; /* static: room for a whole context of tokens */
    printer.ids_format = ids_format;
    uint64_t start = time_in_us();
    int generated = l2e_generate(prompt, &params, print_token, &printer);
    uint64_t elapsed = time_in_us() - start;
    if (generated < 0) fail(l2e_strerror(generated), NULL);
    if (!ids_format) printf("\n");
    fflush(stdout);
    /* positions run: the prompt's after the first, then one per generated token (or -n of the prompt's) */
    int positions = generated > 0 ? num_prompt_tokens - 1 + generated : steps;
    if (positions > 1) print_tok_s(positions - 1, (double)elapsed);

    /* the logits of the first positions, computed again on the same tokens (they are the same: no state but the KV cache) */
    if (dump_logits > 0) {
        for (int i = 0; i < generated; i++) prompt_tokens[num_prompt_tokens + i] = printer.tokens[i];
        l2e_reset();
        for (int pos = 0; pos < dump_logits && pos < positions; pos++) {
            const float* logits = l2e_forward(prompt_tokens[pos], pos);
            printf("L %d", pos);
            for (int i = 0; i < VOCAB_SIZE; i++) {
                uint32_t bits;
                memcpy(&bits, &logits[i], sizeof bits);
                printf(" %08x", bits);
            }
            printf("\n");
        }
        fflush(stdout);
    }
    return 0;
}
