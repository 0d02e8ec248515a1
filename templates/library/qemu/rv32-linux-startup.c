/*
 * A start for a program of the tests built with riscv64-unknown-elf-gcc -march=rv32imc
 * -mabi=ilp32 and picolibc, run under qemu-riscv32 (QEMU's user mode: the program sees a Linux
 * kernel's system calls, not a board). No SDK and no operating system library: _start takes
 * argc and argv from the stack the kernel set up, points gp and tp (picolibc's thread-local
 * errno) at their places, and calls main; picolibc's stdio writes through the write system call,
 * and exit ends the process with the exit system call. The ELF loader has placed .data and
 * zeroed .bss already (rv32-linux.ld).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv);

/* Linux's RISC-V system call numbers (the generic table, asm-generic/unistd.h) */
#define SYS_WRITE 64
#define SYS_EXIT 93

static long linux_call3(long number, long a0, long a1, long a2) {
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r7 __asm__("a7") = number;
    __asm__ volatile("ecall" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7) : "memory");
    return r0;
}

/* stdout and stderr: a line buffer each, written with write(2) to the file descriptors 1 and 2 */
struct console {
    FILE file; /* first: picolibc hands the callbacks this pointer */
    int fd;
    int used;
    char buffer[256];
};

static int console_flush(FILE *file) {
    struct console *c = (struct console *)file;
    for (int done = 0; done < c->used;) {
        long n = linux_call3(SYS_WRITE, c->fd, (long)(c->buffer + done), c->used - done);
        if (n <= 0) return EOF;
        done += (int)n;
    }
    c->used = 0;
    return 0;
}

static int console_put(char ch, FILE *file) {
    struct console *c = (struct console *)file;
    c->buffer[c->used++] = ch;
    if ((ch == '\n' || c->used == (int)sizeof c->buffer) && console_flush(file) != 0) return EOF;
    return (unsigned char)ch;
}

static struct console out = {FDEV_SETUP_STREAM(console_put, NULL, console_flush, _FDEV_SETUP_WRITE), 1, 0, {0}};
static struct console err = {FDEV_SETUP_STREAM(console_put, NULL, console_flush, _FDEV_SETUP_WRITE), 2, 0, {0}};
FILE *const stdin = NULL;
FILE *const stdout = &out.file;
FILE *const stderr = &err.file;

/* picolibc's exit ends here */
void _exit(int status) {
    console_flush(&out.file);
    console_flush(&err.file);
    for (;;) linux_call3(SYS_EXIT, status, 0, 0);
}

/* the thread-local block (errno): the .tdata template then the zeroed .tbss, tp at its start */
extern const char __tdata_start[], __tdata_end[], __tls_end[];
static char tls_block[256] __attribute__((aligned(16)));

void start_c(long *stack) {
    size_t template_bytes = (size_t)(__tdata_end - __tdata_start), tls_bytes = (size_t)(__tls_end - __tdata_start);
    if (tls_bytes > sizeof tls_block) _exit(98);
    memcpy(tls_block, __tdata_start, template_bytes);
    __asm__ volatile("mv tp, %0" ::"r"(tls_block));
    exit(main((int)stack[0], (char **)(stack + 1)));
}

/* the entry: gp for the linker's relaxed addressing, then C with the kernel's stack (argc, argv...) */
__attribute__((naked)) void _start(void) {
    __asm__ volatile(
        ".option push\n\t"
        ".option norelax\n\t"
        "la gp, __global_pointer$\n\t"
        ".option pop\n\t"
        "mv a0, sp\n\t"
        "andi sp, sp, -16\n\t"
        "call start_c\n\t");
}
