/*
 * A bare-metal start for a program of the tests on QEMU's Arm MPS2 boards (mps2-an386: Cortex-M4,
 * mps2-an505: Cortex-M33), with no SDK: the vector table, the reset handler (.data copied from
 * its load address, .bss zeroed, the FPU enabled), main called with the arguments the build
 * compiled in (-DPROGRAM_ARGS='"probe", "One day", ...'), and its output and exit status given to
 * the host by semihosting (ARM's BKPT 0xAB interface; run QEMU with -semihosting).
 * newlib's stdio writes through _write below; the rest of its system calls are nosys.specs'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv);

/* the linker script's symbols (mps2-an386.ld, mps2-an505.ld) */
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];

/* Semihosting operations (Arm's "Semihosting for AArch32 and AArch64", version 2) */
#define SYS_OPEN 0x01
#define SYS_WRITE 0x05
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int op, const void *block) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static int console_out = -1, console_err = -1; /* the host's stdout and stderr, both opened as ":tt" */

/* newlib's write: the file descriptor 2 to the host's stderr, the others to its stdout. */
int _write(int fd, const char *buf, int len) {
    uint32_t block[3] = {(uint32_t)(fd == 2 ? console_err : console_out), (uint32_t)buf, (uint32_t)len};
    return len - semihost(SYS_WRITE, block); /* SYS_WRITE returns the bytes not written */
}

/* Ends the emulation with `status` as QEMU's exit status. */
void _exit(int status) {
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    for (;;) semihost(SYS_EXIT_EXTENDED, block);
}

static char *program_args[] = {PROGRAM_ARGS};

void reset_handler(void) {
    memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
#if defined(__ARM_FP)
    /* CPACR: full access to the coprocessors 10 and 11, the FPU, before any float instruction */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    static const char tt[] = ":tt";
    /* ":tt" opened to write ("w", mode 4) is the host's stdout, to append ("a", mode 8) its stderr */
    uint32_t open_out[3] = {(uint32_t)tt, 4, 3 /* strlen(":tt") */}, open_err[3] = {(uint32_t)tt, 8, 3};
    console_out = semihost(SYS_OPEN, open_out);
    console_err = semihost(SYS_OPEN, open_err);
    exit(main((int)(sizeof program_args / sizeof program_args[0]), program_args)); /* exit flushes stdio */
}

/* Any fault ends the run with a status no program returns. */
static void fault_handler(void) { _exit(99); }

/* The vector table: the initial stack pointer, then the handlers (the exceptions up to SysTick). */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, reset_handler, fault_handler, fault_handler, fault_handler, fault_handler,
    fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0, fault_handler, fault_handler,
};
