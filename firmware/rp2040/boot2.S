/*
 * boot2.S — the second stage boot loader: the first 256 bytes of flash.
 *
 * At power-on the RP2040's boot ROM talks to the flash in the slowest, most widely supported way
 * (serial 03h reads), copies the first 256 bytes of flash to SRAM at 0x20041f00, checks that
 * their last 4 bytes are the CRC-32 of the first 252 (src/firmware-image/boot2.ts appends it), and jumps
 * to the copy. This code runs there, from SRAM: its job is to set up the SSI (the flash
 * interface) so that the 16 MB window at 0x10000000 reads flash directly (execute in place),
 * then to start the firmware through its vector table at 0x10000100.
 *
 * The code is position independent (PC-relative literals only): the ROM runs it at 0x20041f00,
 * the emulator's --no-bootrom start runs it in place at 0x10000000. It must assemble to at most 252 bytes.
 *
 * Three variants, chosen with -DBOOT2_FAST or -DBOOT2_QUAD:
 *
 *   safe (default)  standard SPI, command 03h (Read Data), 24-bit address, no dummy cycles,
 *                   32-bit frames, SCLK = clk_sys / 4 (33 MHz once clocks.c has set clk_sys
 *                   to 133 MHz; 03h is specified up to 50 MHz on the W25Q16JV). Every SPI NOR
 *                   flash implements 03h: this is the variant to use when the chip is unknown.
 *
 *   fast            command 3Bh (Fast Read Dual Output): command and address on one line, 8
 *                   dummy cycles, data on two lines (IO0, IO1); SCLK = clk_sys / 2 (66.5 MHz at
 *                   133 MHz) with the RX sample delay at 1 system clock; QSPI pads: SCLK 8 mA and
 *                   fast slew, Schmitt triggers off on SD0..SD3. Assumes a flash that implements
 *                   3Bh up to at least 67 MHz, as the Pico's Winbond W25Q16JV does (3Bh needs no
 *                   Quad Enable bit, so no status register is ever written). Dummy cycles are
 *                   programmed through SPI_CTRLR0.WAIT_CYCLES, which the datasheet documents for
 *                   the dual/quad frame formats; that is why the fast variant is dual output
 *                   rather than 0Bh in the standard format.
 *
 *   quad            command EBh (Fast Read Quad I/O) with the flash in continuous read mode: after
 *                   one EBh with mode bits A0h, the W25Q flash expects no command, so each XIP
 *                   access sends only the address and mode bits on four lines, waits 4 dummy
 *                   cycles and reads on four lines; SCLK = clk_sys / 2, RX sample delay 1, the same
 *                   pads as fast. EBh needs the Quad Enable bit (status register 2, bit 1, which
 *                   also turns /WP and /HOLD into IO2 and IO3): boot2 reads it (35h) and, if it is
 *                   clear, sets it (06h Write Enable, then 01h with status registers 1 and 2) and
 *                   waits for the write to finish (05h, BUSY). The setting is non-volatile, so this
 *                   write happens once in the life of a board. Every access moves 8 + 2 + 4 + 16
 *                   SCLK per 8-byte line instead of 96 (safe) or 72 (fast).
 *
 * None of the variants has been tried on silicon yet. Each boots in the emulator through the real
 * boot ROM against a model of the Pico's W25Q16JV (and of the W25Q128JV) that answers only what
 * the datasheet says, so a wrong command, dummy count or frame format reads wrong bytes there (see
 * doc/rp2040.md, "Booting through the boot ROM"); with --no-bootrom, rp2040js reads flash whatever
 * the SSI set-up.
 *
 * Exit convention: when the ROM enters boot2 the link register is 0, and boot2 starts the
 * firmware (VTOR = 0x10000100, MSP = the table's first word, jump to its reset vector). When
 * called as a function (LR != 0, e.g. to re-enable XIP after programming flash) it returns. (The
 * quad variant expects the flash out of continuous read mode when it starts, as after reset.)
 */

    .syntax unified
    .cpu cortex-m0plus
    .thumb

/* XIP_SSI registers (datasheet 4.10.13) */
#define XIP_SSI_BASE        0x18000000
#define SSI_CTRLR0          0x00
#define SSI_CTRLR1          0x04
#define SSI_SSIENR          0x08
#define SSI_SER             0x10
#define SSI_BAUDR           0x14
#define SSI_SR              0x28
#define SSI_DR0             0x60
#define SSI_RX_SAMPLE_DLY   0xf0
#define SSI_SPI_CTRLR0      0xf4

/* CTRLR0 fields */
#define CTRLR0_SPI_FRF_LSB  21      /* 0 standard, 1 dual, 2 quad */
#define CTRLR0_DFS_32_LSB   16      /* frame size - 1, in bits */
#define CTRLR0_TMOD_LSB     8
#define TMOD_EEPROM_READ    3       /* send command + address, then receive */
#define SR_BUSY             (1 << 0)
#define SR_TFE              (1 << 2)    /* transmit FIFO empty */

/* SPI_CTRLR0 fields */
#define SPI_CTRLR0_XIP_CMD_LSB      24
#define SPI_CTRLR0_WAIT_CYCLES_LSB  11
#define SPI_CTRLR0_INST_L_LSB       8
#define INST_L_8B                   2
#define SPI_CTRLR0_ADDR_L_LSB       2   /* address length in units of 4 bits */
#define ADDR_L_24B                  6
#define TRANS_TYPE_1C1A             0   /* command and address in standard SPI, data in SPI_FRF */
#define TRANS_TYPE_1C2A             1   /* command in standard SPI, address and data in SPI_FRF */
#define TRANS_TYPE_2C2A             2   /* command (if any), address and data in SPI_FRF */
#define INST_L_NONE                 0
#define ADDR_L_32B                  8   /* 24-bit address + 8 mode bits */

/* W25Q flash commands (quad variant) */
#define CMD_WRITE_ENABLE            0x06
#define CMD_WRITE_STATUS            0x01    /* status register 1, then 2 */
#define CMD_READ_STATUS             0x05
#define CMD_READ_STATUS2            0x35
#define STATUS2_QE                  (1 << 1)
#define STATUS_BUSY                 (1 << 0)
#define MODE_CONTINUOUS             0xa0    /* M5..4 = 10b: stay in continuous read */

/* PADS_QSPI (datasheet 2.19.6.4) */
#define PADS_QSPI_BASE              0x40020000
#define PADS_QSPI_GPIO_QSPI_SCLK    0x04
#define PADS_QSPI_GPIO_QSPI_SD0     0x08
#define PADS_QSPI_GPIO_QSPI_SD3     0x14
#define PADS_DRIVE_8MA              (2 << 4)
#define PADS_SCHMITT                (1 << 1)
#define PADS_SLEWFAST               (1 << 0)

#define XIP_BASE                    0x10000000
#define M0PLUS_VTOR                 0xe000ed08

#if defined(BOOT2_QUAD)
#define SPI_FRF             2       /* quad */
#define READ_COMMAND        0xeb
#define DUMMY_CYCLES        4
#define SCLK_DIVISOR        2
#define RX_SAMPLE_DELAY     1
#elif defined(BOOT2_FAST)
#define SPI_FRF             1       /* dual */
#define READ_COMMAND        0x3b
#define DUMMY_CYCLES        8
#define SCLK_DIVISOR        2
#define RX_SAMPLE_DELAY     1
#else
#define SPI_FRF             0       /* standard */
#define READ_COMMAND        0x03
#define DUMMY_CYCLES        0
#define SCLK_DIVISOR        4
#define RX_SAMPLE_DELAY     0
#endif

#define CTRLR0_XIP ((SPI_FRF << CTRLR0_SPI_FRF_LSB) | (31 << CTRLR0_DFS_32_LSB) | (TMOD_EEPROM_READ << CTRLR0_TMOD_LSB))
#if defined(BOOT2_QUAD)
/* the one EBh that enters continuous read: the command on one line, address + mode on four */
#define SPI_CTRLR0_ENTER ((DUMMY_CYCLES << SPI_CTRLR0_WAIT_CYCLES_LSB) | (INST_L_8B << SPI_CTRLR0_INST_L_LSB) | \
                          (ADDR_L_32B << SPI_CTRLR0_ADDR_L_LSB) | TRANS_TYPE_1C2A)
/* then XIP: no command, the mode bits (XIP_CMD) after the address, everything on four lines */
#define SPI_CTRLR0_XIP ((MODE_CONTINUOUS << SPI_CTRLR0_XIP_CMD_LSB) | (DUMMY_CYCLES << SPI_CTRLR0_WAIT_CYCLES_LSB) | \
                        (INST_L_NONE << SPI_CTRLR0_INST_L_LSB) | (ADDR_L_32B << SPI_CTRLR0_ADDR_L_LSB) | TRANS_TYPE_2C2A)
/* plain SPI, 8-bit frames, transmit and receive: for the status register commands */
#define CTRLR0_COMMANDS (7 << CTRLR0_DFS_32_LSB)
#else
#define SPI_CTRLR0_XIP ((READ_COMMAND << SPI_CTRLR0_XIP_CMD_LSB) | (DUMMY_CYCLES << SPI_CTRLR0_WAIT_CYCLES_LSB) | \
                        (INST_L_8B << SPI_CTRLR0_INST_L_LSB) | (ADDR_L_24B << SPI_CTRLR0_ADDR_L_LSB) | TRANS_TYPE_1C1A)
#endif

    .section .text.boot2, "ax"
    .global boot2_entry
    .type boot2_entry, %function
    .thumb_func
boot2_entry:
    push {lr}

#if defined(BOOT2_FAST) || defined(BOOT2_QUAD)
    /* Faster edges on the flash clock, and no input hysteresis delay on the data lines. */
    ldr r3, =PADS_QSPI_BASE
    movs r0, #(PADS_DRIVE_8MA | PADS_SLEWFAST)
    str r0, [r3, #PADS_QSPI_GPIO_QSPI_SCLK]
    movs r1, #PADS_SCHMITT
    movs r2, #PADS_QSPI_GPIO_QSPI_SD0
1:  ldr r0, [r3, r2]
    bics r0, r1
    str r0, [r3, r2]
    adds r2, #4
    cmp r2, #(PADS_QSPI_GPIO_QSPI_SD3 + 4)
    bne 1b
#endif

    /* The SSI accepts configuration only while disabled. */
    ldr r3, =XIP_SSI_BASE
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]

    movs r1, #SCLK_DIVISOR
    str r1, [r3, #SSI_BAUDR]
    movs r1, #RX_SAMPLE_DELAY
    movs r2, #SSI_RX_SAMPLE_DLY
    str r1, [r3, r2]

#if defined(BOOT2_QUAD)
    /* 1. The Quad Enable bit, in plain SPI with 8-bit frames. */
    movs r1, #1
    str r1, [r3, #SSI_SER]
    ldr r1, =CTRLR0_COMMANDS
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]
    movs r0, #CMD_READ_STATUS2
    bl read_status
    movs r2, #STATUS2_QE
    tst r0, r2
    bne 3f
    movs r1, #CMD_WRITE_ENABLE
    str r1, [r3, #SSI_DR0]
    bl wait_idle
    ldr r1, [r3, #SSI_DR0]          /* the byte received while sending */
    movs r1, #CMD_WRITE_STATUS
    str r1, [r3, #SSI_DR0]
    movs r1, #0
    str r1, [r3, #SSI_DR0]          /* status register 1: 0 */
    movs r1, #STATUS2_QE            /* (r2 was wait_idle's) */
    str r1, [r3, #SSI_DR0]          /* status register 2: QE only (bit 0 would lock the registers) */
    bl wait_idle
    ldr r1, [r3, #SSI_DR0]
    ldr r1, [r3, #SSI_DR0]
    ldr r1, [r3, #SSI_DR0]
2:  movs r0, #CMD_READ_STATUS       /* until the non-volatile write is done */
    bl read_status
    movs r2, #STATUS_BUSY
    tst r0, r2
    bne 2b
3:
    /* 2. One EBh with address 0 and mode bits A0h: the flash enters continuous read. */
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]
    ldr r1, =CTRLR0_XIP
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #0
    str r1, [r3, #SSI_CTRLR1]
    ldr r1, =SPI_CTRLR0_ENTER
    movs r2, #SSI_SPI_CTRLR0
    str r1, [r3, r2]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]
    movs r1, #READ_COMMAND
    str r1, [r3, #SSI_DR0]
    movs r1, #MODE_CONTINUOUS       /* the 32-bit "address": 0x000000, then the mode byte */
    str r1, [r3, #SSI_DR0]
    bl wait_idle
    ldr r1, [r3, #SSI_DR0]          /* the word read */

    /* 3. XIP from now on: address + mode bits only. */
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]
    ldr r1, =SPI_CTRLR0_XIP
    movs r2, #SSI_SPI_CTRLR0
    str r1, [r3, r2]
#else

    /* 32-bit frames, "EEPROM read" transfers: each XIP access sends command + address and
     * receives one 32-bit frame (CTRLR1.NDF = 0 means one frame). */
    ldr r1, =CTRLR0_XIP
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #0
    str r1, [r3, #SSI_CTRLR1]
    ldr r1, =SPI_CTRLR0_XIP
    movs r2, #SSI_SPI_CTRLR0
    str r1, [r3, r2]
#endif

    /* Select the (only) flash chip and enable the SSI: XIP reads now go to flash. */
    movs r1, #1
    str r1, [r3, #SSI_SER]
    str r1, [r3, #SSI_SSIENR]

    /* Called as a function: return. Entered from the ROM (LR was 0): start the firmware. */
    pop {r0}
    cmp r0, #0
    beq start_firmware
    bx r0

start_firmware:
    ldr r0, =(XIP_BASE + 0x100)     /* the vector table follows boot2 */
    ldr r1, =M0PLUS_VTOR
    str r0, [r1]
    ldmia r0, {r0, r1}              /* initial stack pointer, reset handler */
    msr msp, r0
    bx r1

#if defined(BOOT2_QUAD)
/* Waits until the SSI has sent everything and is idle. Uses r1, r2; r3 = XIP_SSI_BASE. */
wait_idle:
    ldr r1, [r3, #SSI_SR]
    movs r2, #SR_TFE
    tst r1, r2
    beq wait_idle
    movs r2, #SR_BUSY
    tst r1, r2
    bne wait_idle
    bx lr

/* r0 = a status register read command; returns the register in r0. Uses r1, r2. */
read_status:
    str r0, [r3, #SSI_DR0]
    str r0, [r3, #SSI_DR0]          /* a second byte clocks the register out */
    mov r12, lr
    bl wait_idle
    mov lr, r12
    ldr r0, [r3, #SSI_DR0]          /* received while the command went out */
    ldr r0, [r3, #SSI_DR0]          /* the register */
    bx lr
#endif

    .ltorg
    .size boot2_entry, . - boot2_entry
