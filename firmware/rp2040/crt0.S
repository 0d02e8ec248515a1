/*
 * crt0.S — the vector table and the reset handler.
 *
 * The vector table sits at 0x10000100, right after boot2, which points VTOR at it, loads the
 * stack pointer from its first word and jumps to its second (reset_handler). The table is the
 * Cortex-M0+'s (ARMv6-M: 16 system entries) followed by the RP2040's 26 interrupts, named as in
 * the datasheet (2.3.2). Every handler is a weak alias: define a function with the same name to
 * handle it; the default (isr_unexpected, below) reports the exception over the UART and stops.
 *
 * reset_handler prepares C: copies .data and .sram_text from flash to SRAM, zeroes .bss, calls
 * runtime_init() (clocks, UART, cycle counter) and main(), and passes main's result to
 * rp2040_exit(). The section boundaries come from the linker script (src/firmware-image/linker-script.ts).
 */

    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .section .vectors, "ax"
    .align 2
    .global __vectors
__vectors:
    .word __stack_top__
    .word reset_handler
    .word isr_nmi
    .word isr_hardfault
    .word 0, 0, 0, 0, 0, 0, 0       /* 4..10: reserved on ARMv6-M */
    .word isr_svcall
    .word 0, 0                      /* 12, 13: reserved */
    .word isr_pendsv
    .word isr_systick
    /* IRQ 0..25 */
    .word TIMER_IRQ_0
    .word TIMER_IRQ_1
    .word TIMER_IRQ_2
    .word TIMER_IRQ_3
    .word PWM_IRQ_WRAP
    .word USBCTRL_IRQ
    .word XIP_IRQ
    .word PIO0_IRQ_0
    .word PIO0_IRQ_1
    .word PIO1_IRQ_0
    .word PIO1_IRQ_1
    .word DMA_IRQ_0
    .word DMA_IRQ_1
    .word IO_IRQ_BANK0
    .word IO_IRQ_QSPI
    .word SIO_IRQ_PROC0
    .word SIO_IRQ_PROC1
    .word CLOCKS_IRQ
    .word SPI0_IRQ
    .word SPI1_IRQ
    .word UART0_IRQ
    .word UART1_IRQ
    .word ADC_IRQ_FIFO
    .word I2C0_IRQ
    .word I2C1_IRQ
    .word RTC_IRQ
    .size __vectors, . - __vectors

/* Handlers nobody defined go to isr_unexpected. */
.macro weak_handler name
    .weak \name
    .thumb_set \name, isr_unexpected
.endm
    weak_handler isr_nmi
    weak_handler isr_hardfault
    weak_handler isr_svcall
    weak_handler isr_pendsv
    weak_handler isr_systick
    weak_handler TIMER_IRQ_0
    weak_handler TIMER_IRQ_1
    weak_handler TIMER_IRQ_2
    weak_handler TIMER_IRQ_3
    weak_handler PWM_IRQ_WRAP
    weak_handler USBCTRL_IRQ
    weak_handler XIP_IRQ
    weak_handler PIO0_IRQ_0
    weak_handler PIO0_IRQ_1
    weak_handler PIO1_IRQ_0
    weak_handler PIO1_IRQ_1
    weak_handler DMA_IRQ_0
    weak_handler DMA_IRQ_1
    weak_handler IO_IRQ_BANK0
    weak_handler IO_IRQ_QSPI
    weak_handler SIO_IRQ_PROC0
    weak_handler SIO_IRQ_PROC1
    weak_handler CLOCKS_IRQ
    weak_handler SPI0_IRQ
    weak_handler SPI1_IRQ
    weak_handler UART0_IRQ
    weak_handler UART1_IRQ
    weak_handler ADC_IRQ_FIFO
    weak_handler I2C0_IRQ
    weak_handler I2C1_IRQ
    weak_handler RTC_IRQ

    .section .text.reset_handler, "ax"
    .global reset_handler
    .type reset_handler, %function
    .thumb_func
reset_handler:
    /* boot2 did this already; again, for a debugger that loads the ELF and resets into here. */
    ldr r0, =__vectors
    ldr r1, =0xe000ed08             /* M0PLUS_VTOR */
    str r0, [r1]
    ldr r0, =__stack_top__
    msr msp, r0

    ldr r0, =__data_load__
    ldr r1, =__data_start__
    ldr r2, =__data_end__
    bl copy_words
    ldr r0, =__sram_text_load__
    ldr r1, =__sram_text_start__
    ldr r2, =__sram_text_end__
    bl copy_words

    ldr r1, =__bss_start__
    ldr r2, =__bss_end__
    movs r0, #0
1:  cmp r1, r2
    bhs 2f
    stmia r1!, {r0}
    b 1b
2:
    bl runtime_init
    bl main
    bl rp2040_exit                  /* with main's return value in r0; does not return */

/* Copies words from r0 to [r1, r2). All three are 4-byte aligned (the linker script sees to it). */
    .type copy_words, %function
    .thumb_func
copy_words:
1:  cmp r1, r2
    bhs 2f
    ldmia r0!, {r3}
    stmia r1!, {r3}
    b 1b
2:  bx lr

    .ltorg
    .size reset_handler, . - reset_handler

/* Every exception without a handler of its own, HardFault included, lands here: find the stack
 * frame the core pushed (MSP or PSP, per bit 2 of EXC_RETURN in LR) and hand it, with the
 * exception number (IPSR), to exception_report() in runtime.c, which reports it and stops. */
    .section .text.isr_unexpected, "ax"
    .global isr_unexpected
    .type isr_unexpected, %function
    .thumb_func
isr_unexpected:
    movs r0, #4
    mov r1, lr
    tst r0, r1
    beq 1f
    mrs r0, psp
    b 2f
1:  mrs r0, msp
2:  mrs r1, ipsr
    ldr r2, =exception_report
    bx r2
    .ltorg
    .size isr_unexpected, . - isr_unexpected
