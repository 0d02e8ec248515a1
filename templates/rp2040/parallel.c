/*
 * parallel.h on the RP2040's two cores: with `--threads 2`, core 1 takes the second half of every
 * job's rows (a matmul's, the feed-forward's hidden rows with SwiGLU, the attention's parts of
 * the heads) while core 0 does the first half. Every row is computed by one core in its own
 * order, so the results are the same as on one core (doc/rp2040.md, "Dual core").
 *
 * Core 1 waits in the boot ROM until core 0 sends it, through the SIO's inter-core FIFOs, the
 * sequence 0, 0, 1, vector table, stack pointer, entry point, each echoed back (datasheet 2.8.2).
 * If no echo comes within LAUNCH_TIMEOUT_US (an emulator that runs one core, such as plain
 * rp2040js; the project's harness runs both), everything stays on core 0: parallel_worth() says no and the program runs as a single-core
 * build would.
 *
 * Work hand-off: core 0 pushes the range function, the job and the row range (four FIFO words);
 * core 1 runs it and pushes 1 when done. Core 0 takes rows [0, split), core 1 [split, rows), the
 * split a multiple of 4 so that the four-row kernels keep their blocks (parallel_split()). Small
 * jobs are worth it too (parallel_worth()): a hand-over costs far less than one soft-float row.
 */
#include <stdint.h>

#include "parallel.h"
#include "rp2040.h"

#define SIO_FIFO_ST (0xd0000000u + 0x050u)
#define SIO_FIFO_WR (0xd0000000u + 0x054u)
#define SIO_FIFO_RD (0xd0000000u + 0x058u)
#define SIO_FIFO_ST_VLD (1u << 0) /* the RX FIFO has data */
#define SIO_FIFO_ST_RDY (1u << 1) /* the TX FIFO has room */
#define PPB_VTOR (0xe0000000u + 0xed08u)
#define LAUNCH_TIMEOUT_US 10000u

uint64_t timer_us(void);

static int cores = 1;

/* core 1's stack: a matmul range or an attention part needs a few hundred bytes */
static uint32_t core1_stack[256] __attribute__((aligned(8)));

static void fifo_push(uint32_t word) {
    while (!(REG(SIO_FIFO_ST) & SIO_FIFO_ST_RDY)) {
    }
    REG(SIO_FIFO_WR) = word;
    __asm volatile("sev");
}

static uint32_t fifo_pop(void) {
    while (!(REG(SIO_FIFO_ST) & SIO_FIFO_ST_VLD)) {
        __asm volatile("wfe");
    }
    return REG(SIO_FIFO_RD);
}

/* core 1, forever: a range function, its job and rows, then "done" */
static void core1_main(void) {
    for (;;) {
        RowsFn fn = (RowsFn)fifo_pop();
        const void* job = (const void*)fifo_pop();
        int start = (int)fifo_pop();
        int end = (int)fifo_pop();
        fn(job, start, end);
        fifo_push(1);
    }
}

/* The boot ROM's launch handshake; 0 if core 1 never answers. */
static int launch_core1(void) {
    /* FIFO_ST has four status bits: anything else means there is no inter-core FIFO here (an
     * emulator of one core answers unknown registers with all ones) */
    if (REG(SIO_FIFO_ST) & ~0xfu) return 0;
    const uint32_t sequence[6] = {0, 0, 1, REG(PPB_VTOR), (uint32_t)(core1_stack + 256), (uint32_t)core1_main};
    uint64_t deadline = timer_us() + LAUNCH_TIMEOUT_US;
    unsigned i = 0;
    while (i < 6) {
        if (timer_us() > deadline) return 0;
        uint32_t command = sequence[i];
        if (command == 0) {
            for (int n = 0; n < 8 && (REG(SIO_FIFO_ST) & SIO_FIFO_ST_VLD); n++) (void)REG(SIO_FIFO_RD); /* drain */
            __asm volatile("sev");
        }
        while (!(REG(SIO_FIFO_ST) & SIO_FIFO_ST_RDY)) {
            if (timer_us() > deadline) return 0;
        }
        REG(SIO_FIFO_WR) = command;
        __asm volatile("sev");
        while (!(REG(SIO_FIFO_ST) & SIO_FIFO_ST_VLD)) {
            if (timer_us() > deadline) return 0;
        }
        uint32_t response = REG(SIO_FIFO_RD);
        i = response == command ? i + 1 : 0;
    }
    return 1;
}

void parallel_init(int threads) {
    if (threads > 1 && cores == 1 && launch_core1()) cores = 2;
}

/* A hand-over is four FIFO words and a reply, a few hundred cycles: worth it for any matmul. */
int parallel_worth(long work) {
    return cores > 1 && work > 0;
}

/*
 * Core 1's share starts here: half the rows, rounded down to a multiple of 4, or just half when
 * that would leave core 0 nothing (the 2 parts of an attention job: a row of att each).
 */
int parallel_split(int rows) {
    int split = (rows / 2) & ~3;
    return split > 0 ? split : rows / 2;
}

void parallel_rows(RowsFn fn, const void* job, int rows) {
    int split = parallel_split(rows);
    if (cores == 1 || split == 0) {
        fn(job, 0, rows);
        return;
    }
    fifo_push((uint32_t)fn);
    fifo_push((uint32_t)job);
    fifo_push((uint32_t)split);
    fifo_push((uint32_t)rows);
    fn(job, 0, split);
    (void)fifo_pop(); /* core 1 is done */
}
