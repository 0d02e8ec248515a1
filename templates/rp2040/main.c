/*
 * llama2-embed firmware for the RP2040 (Raspberry Pi Pico): the model compiled into it, talking
 * over the Pico's own USB port as a CDC-ACM serial port (firmware/rp2040/usb.h), over UART0 (GP0
 * TX, GP1 RX, 115200 8N1), or both: `build --stdio usb|uart|both` (STDIO_USB, STDIO_UART in
 * generation.h; USB by default).
 *
 * At reset, the generation baked in at build time (generation.h), run through the library's API
 * (llama2_embed.h: l2e_init, l2e_generate_tokens with a callback per token, l2e_decode) and
 * printed as it goes: with the tokenizer embedded (--embed-tokenizer; its tables in flash), the
 * prompt encoded here (l2e_encode) and the text, like llama2.c run; otherwise the prompt's
 * tokens from the host and `P <id>` / `G <id>` lines for the host to decode. Then a statistics line over
 * every position run, the first included (the prompt's run inside the call, out of a callback's
 * sight: run.c starts its clock after the first):
 *   achieved tok/s: 12.34 (N tokens, C cycles per token at F MHz)
 * A build with `-n 0` has no baked generation.
 *
 * Then the serial protocol of doc/protocol.md, forever: a lone 0x00 and a HELLO, and the host's
 * requests (llama2-embed monitor): HELLO_REQUEST → HELLO, GENERATE → a TOKEN per position with
 * the microseconds it took and a DONE, CANCEL between two positions, an ERROR for what cannot be
 * read. Input is polled (never blocking) between positions, so a host can cancel. A
 * valid frame received during the baked generation ends it: the host is served at once.
 * Over USB, the HELLO waits until a program on the computer opens the port (DTR): what the
 * firmware writes before that waits in the USB ring buffer (1 KiB; beyond it, dropped), and the
 * USB interrupt keeps the port answering the computer during forward passes.
 *
 * EXIT_AFTER_GENERATION (generation.h; the tests' firmware) returns from main() after the baked
 * generation instead: rp2040_exit() ends with a BKPT, where the emulator stops.
 * The runtime (firmware/rp2040: boot2, clocks, UART, timer) runs before main().
 */
#include <stdint.h>
#include <string.h>

#include "forward.h"
#include "generation.h"
#include "l2e_private.h"
#include "llama2_embed.h"
#include "model.h"
#include "parallel.h"
#include "protocol.h"
#include "protocol_server.h"
#include "rp2040.h"
#include "usb.h"

/* Where the protocol and the printing go (generation.h): USB CDC, UART0, or both. */
#ifndef STDIO_USB
#define STDIO_USB 1
#endif
#ifndef STDIO_UART
#define STDIO_UART 0
#endif
#if !STDIO_USB && !STDIO_UART
#error "the firmware needs STDIO_USB or STDIO_UART (build --stdio)"
#endif

/* What this image speaks, for a tool that has only the image (`flash --emulate` of a firmware.uf2
 * copied out of its build directory): one NUL-terminated line in flash, found by its prefix
 * (src/firmware-image/firmware-tag.ts). Nothing here reads it: its section is KEEP in memmap.ld. */
#if STDIO_USB && STDIO_UART
#define STDIO_NAME "both"
#elif STDIO_USB
#define STDIO_NAME "usb"
#else
#define STDIO_NAME "uart"
#endif
__attribute__((used, section(".rodata.firmware_tag"))) static const char firmware_tag[] = "llama2-embed firmware v1: target=rp2040 stdio=" STDIO_NAME;

/* the sampler's scratch, the library's and the protocol server's (L2E_SHARED_SAMPLER_ORDER) */
int32_t firmware_sampler_order[SAMPLER_ORDER_SIZE];
static protocol_decoder decoder;

/* ---------------------------------------------------------------------------------------------
 * Input and output: USB, UART0 or both.
 */

static void input_irq_init(void);

static void stdio_init(void) {
#if STDIO_USB
    usb_cdc_init();
#endif
    input_irq_init();
}

static void write_out(const uint8_t* bytes, size_t length) {
#if STDIO_UART
    uart_write(bytes, length);
#endif
#if STDIO_USB
    usb_cdc_write(bytes, length);
#endif
}

/* The next byte from the host, or -1 (never blocks). With both, USB first: use one at a time. */
static int read_in(void) {
    int c = -1;
#if STDIO_USB
    c = usb_cdc_getc();
#endif
#if STDIO_UART
    if (c < 0) c = uart_getc();
#endif
    return c;
}

/* ---------------------------------------------------------------------------------------------
 * Sleeping while the host says nothing. The core waits for an interrupt (WFI) instead of polling
 * flat out: the USB controller's (enabled by usb.c; it also brings DTR) or UART0's receive
 * interrupt, whose handler only masks it in the NVIC (the main loop reads the byte, and unmasks it
 * before the next sleep). On a board this saves power; in `flash --emulate` the emulator idles.
 * Interrupts are masked (PRIMASK) from the check to the WFI, so a byte that arrives in between
 * still ends the WFI (ARMv6-M: WFI wakes on a pending interrupt whatever PRIMASK says); the
 * handlers then run at the cpsie.
 */

#if STDIO_UART
void UART0_IRQ(void) { REG(M0PLUS_NVIC_ICER) = 1u << IRQ_UART0; }

static int uart_readable(void) { return !(REG(UART0_BASE + UARTFR) & UARTFR_RXFE); }
#endif

static void input_irq_init(void) {
#if STDIO_UART
    REG(UART0_BASE + UARTIMSC) = UARTIMSC_RXIM | UARTIMSC_RTIM;
#endif
}

/* Sleeps until something may have arrived, unless `ready` says it has already. */
static void sleep_unless(int ready) {
    if (ready) return;
#if STDIO_UART
    REG(M0PLUS_NVIC_ISER) = 1u << IRQ_UART0;
#endif
    __asm volatile("wfi" ::: "memory");
}

/* Sleeps until a byte from the host may be waiting. */
static void wait_for_input(void) {
    uint32_t primask = interrupts_off();
    int ready = 0;
#if STDIO_USB
    ready |= usb_cdc_readable();
#endif
#if STDIO_UART
    ready |= uart_readable();
#endif
    sleep_unless(ready);
    interrupts_restore(primask);
}

/* Over USB: waits until a program opens the port (DTR), so the HELLO reaches it; with both, a
 * byte waiting on UART0 also ends the wait. */
static void wait_for_host(void) {
#if STDIO_USB
    for (;;) {
        uint32_t primask = interrupts_off();
        int ready = usb_cdc_dtr();
#if STDIO_UART
        ready |= uart_readable();
#endif
        sleep_unless(ready);
        interrupts_restore(primask);
        if (ready) break;
    }
#endif
}

/* Before main() returns (EXIT_AFTER_GENERATION): lets the host read what is queued for it. */
static void drain_output(void) {
#if STDIO_USB
    while (usb_cdc_dtr() && usb_cdc_pending()) {
    }
#endif
}

static void out_str(const char* text) { write_out((const uint8_t*)text, strlen(text)); }

static void out_u64(uint64_t value) {
    char digits[20];
    int n = 20;
    do {
        digits[--n] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value);
    write_out((const uint8_t*)digits + n, (size_t)(20 - n));
}

static void out_u32(uint32_t value) { out_u64(value); }

/* ---------------------------------------------------------------------------------------------
 * The host's frames.
 */

/* Decodes what has been received; the first frame or bad frame completed, else PROTOCOL_NOTHING. */
static protocol_status poll_host(protocol_event* event) {
    int c;
    while ((c = read_in()) >= 0) {
        protocol_status status = protocol_decode_byte(&decoder, (uint8_t)c, event);
        if (status != PROTOCOL_NOTHING) return status;
    }
    return PROTOCOL_NOTHING;
}

/* ---------------------------------------------------------------------------------------------
 * The generation baked in at build time.
 */

/* A prompt token: its text, or a `P <id>` line for the host to decode. */
static void print_prompt_token(int prev, int token) {
#if EMBED_TOKENIZER
    const char* piece = l2e_decode(prev, token);
    /* the pieces are C strings: the byte token <0x00> (id 3) is the NUL byte it stands for */
    write_out((const uint8_t*)piece, token == 3 && piece[0] == '\0' ? 1 : strlen(piece));
#else
    (void)prev;
    out_str("P ");
    out_u32((uint32_t)token);
    out_str("\n");
#endif
}

/* tok/s with two decimals, from integers only (no printf on this target). */
static void print_rate(uint64_t tokens, uint64_t cycles) {
    uint64_t hundredths = cycles ? tokens * (uint64_t)RP2040_CLK_SYS_HZ * 100u / cycles : 0;
    out_u64(hundredths / 100u);
    out_str(".");
    uint32_t fraction = (uint32_t)(hundredths % 100u);
    if (fraction < 10u) out_str("0");
    out_u32(fraction);
}

#if GENERATION_STEPS != 0
#if EMBED_TOKENIZER
/* the prompt's text, encoded at reset: strlen + 3 ids while merging (tokenizer_encode) */
static const char prompt_text[] = GENERATION_PROMPT;
static int prompt_tokens[sizeof prompt_text + 2];
#else
/* the prompt tokenized on the host at build time */
static const int prompt_tokens[] = GENERATION_PROMPT_TOKENS;
#endif

/* What the token callback is given. */
typedef struct {
    int interrupted;           /* a frame from the host stopped the generation: it is in *request */
    protocol_event* request;
} BakedRun;

/* l2e_token_fn: prints a generated token, and gives way to a host that is talking to the board. */
static int on_token(const char* piece, int token, void* user) {
    BakedRun* run = user;
#if EMBED_TOKENIZER
    if (token != 1) write_out((const uint8_t*)piece, token == 3 && piece[0] == '\0' ? 1 : strlen(piece)); /* BOS ends the text: not printed */
#else
    (void)piece;
    out_str("G ");
    out_u32((uint32_t)token);
    out_str("\n");
#endif
    if (token == 1) return 1;
    /* bad frames are ignored here: this is text */
    if (poll_host(run->request) == PROTOCOL_FRAME) {
        run->interrupted = 1;
        return 1;
    }
    return 0;
}

/* Runs and prints the baked generation. Returns 1 if a frame from the host cut it short: the
 * frame is in *request (valid until the next byte is decoded). */
static int run_baked_generation(protocol_event* request) {
#if EMBED_TOKENIZER
    const int num_prompt_tokens = l2e_encode(prompt_text, 1, 0, prompt_tokens, (int)(sizeof prompt_tokens / sizeof prompt_tokens[0]));
    if (num_prompt_tokens < 0) {
        out_str("llama2: ");
        out_str(l2e_strerror(num_prompt_tokens));
        out_str("\n");
        return 0;
    }
#else
    const int num_prompt_tokens = (int)(sizeof prompt_tokens / sizeof prompt_tokens[0]);
#endif
    int steps = GENERATION_STEPS;
    if (steps < 0 || steps > SEQ_LEN) steps = SEQ_LEN;
    /* the prompt's tokens, those of the positions that run (the first is printed as an id only) */
#if !EMBED_TOKENIZER
    print_prompt_token(0, prompt_tokens[0]);
#endif
    for (int i = 1; i < num_prompt_tokens && i <= steps; i++) print_prompt_token(prompt_tokens[i - 1], prompt_tokens[i]);

    /* generation.h's sampling in l2e_params, where 0 means the default: greedy is a negative
     * temperature, and top-p 0 (sample from every token) is top-p 1 */
    l2e_params params = {steps, GENERATION_TEMPERATURE == 0.0f ? L2E_TEMPERATURE_GREEDY : GENERATION_TEMPERATURE,
                         GENERATION_TOPP == 0.0f ? 1.0f : GENERATION_TOPP, GENERATION_SEED};
    BakedRun run = {0, request};
    uint64_t start = cycles_now();
    int generated = l2e_generate_tokens(prompt_tokens, num_prompt_tokens, &params, on_token, &run);
    uint64_t cycles = cycles_now() - start;
    if (generated < 0) {
        out_str("llama2: ");
        out_str(l2e_strerror(generated));
        out_str("\n");
        return 0;
    }
    /* positions run: the prompt's after the first, then one per generated token (or -n of the prompt's) */
    int positions = generated > 0 ? num_prompt_tokens - 1 + generated : steps;
    out_str("\nachieved tok/s: ");
    print_rate((uint64_t)positions, cycles);
    out_str(" (");
    out_u32((uint32_t)positions);
    out_str(" tokens, ");
    out_u64(positions ? cycles / (uint64_t)positions : 0);
    out_str(" cycles per token at ");
    out_u32(RP2040_CLK_SYS_HZ / 1000000u);
    out_str(" MHz)\n");
    return run.interrupted;
}
#endif

/* ---------------------------------------------------------------------------------------------
 * The protocol (doc/protocol.md): the host tokenizes, the board generates.
 */

/* Serves the host forever. `first`: a frame already received (it is answered instead of an unasked HELLO). */
static void serve_forever(const protocol_event* first) {
    /* the server's view of the board: its serial port (USB, UART0 or both) and its timer */
    static const protocol_server server = {write_out, NULL, poll_host, timer_us, firmware_sampler_order};
    if (!first) wait_for_host();
    protocol_send_delimiter(write_out); /* ends whatever the host's decoder holds */
    if (first) protocol_server_handle(&server, PROTOCOL_FRAME, first);
    else protocol_server_hello(&server);
    for (;;) {
        protocol_event e;
        protocol_status status = poll_host(&e);
        if (status != PROTOCOL_NOTHING) protocol_server_handle(&server, status, &e);
        else wait_for_input();
    }
}

int main(void) {
    stdio_init();
    int status = l2e_init(); /* the weights' size (the tokenizer's tables were checked at build time) */
    if (status != L2E_OK) {
        out_str("llama2: ");
        out_str(l2e_strerror(status));
        out_str("\n");
        drain_output();
        return 1;
    }
    parallel_init(DEFAULT_THREADS); /* l2e_init runs on one core; --threads 2: core 1 takes half of every matmul, if it answers */
    protocol_decoder_init(&decoder);
    protocol_event request;
    int interrupted = 0;
#if GENERATION_STEPS != 0
    interrupted = run_baked_generation(&request);
#endif
#if EXIT_AFTER_GENERATION
    (void)interrupted;
    (void)request;
    drain_output();
    return 0;
#else
    serve_forever(interrupted ? &request : NULL);
    return 0;
#endif
}
