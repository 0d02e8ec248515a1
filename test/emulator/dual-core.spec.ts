/**
 * Core 1 in the harness (src/emulator/second-core.ts, inter-core-fifo.ts): the SIO as each core
 * sees it (CPUID, the inter-core FIFOs with their status bits and interrupts, the shared
 * spinlocks, a divider per core), the boot ROM's launch protocol (the harness's model of it
 * without the ROM image, the ROM's own code with it), PSM's reset of core 1, and SEV/WFE between
 * the cores in a program that launches core 1 and waits for its answer.
 */
import { expect } from 'chai';
import { readBootRom } from '../../src/emulator/boot-rom.js';
import { FIFO_DEPTH, FIFO_ROE, FIFO_RDY, FIFO_VLD, FIFO_WOF } from '../../src/emulator/inter-core-fifo.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { assemblyImage } from '../helpers/rp2040-program.js';
import { needs, requireBootRom } from '../helpers/needs.js';

const SIO = 0xd0000000;
const CPUID = SIO + 0x000;
const FIFO_ST = SIO + 0x050;
const FIFO_WR = SIO + 0x054;
const FIFO_RD = SIO + 0x058;
const SPINLOCK_ST = SIO + 0x05c;
const DIV_UDIVIDEND = SIO + 0x060;
const DIV_UDIVISOR = SIO + 0x064;
const DIV_QUOTIENT = SIO + 0x070;
const SPINLOCK = (n: number) => SIO + 0x100 + 4 * n;
const PSM_FRCE_OFF = 0x40010004;
const PSM_PROC1 = 1 << 16;
const IRQ_SIO_PROC0 = 15;
const IRQ_SIO_PROC1 = 16;

/**
 * Core 0 launches core 1 with the boot ROM's protocol (datasheet 2.8.2: 0, 0, 1, vector table,
 * stack, entry, each echoed; the FIFO drained and a SEV before each 0), sleeping in WFE for each
 * echo; core 1 answers CPUID + 41 through the FIFO and a SEV, then sleeps; core 0 stops with it in r1.
 */
const LAUNCH = `
    ldr r7, =0xd0000000
    ldr r6, =sequence
    movs r5, #0
next:
    cmp r5, #6
    beq launched
    lsls r0, r5, #2
    ldr r4, [r6, r0]
    cmp r4, #0
    bne send
drain:
    ldr r0, [r7, #0x50]
    lsls r0, r0, #31
    bpl drained
    ldr r0, [r7, #0x58]
    b drain
drained:
    sev
send:
    ldr r0, [r7, #0x50]
    lsls r0, r0, #30
    bpl send
    str r4, [r7, #0x54]
    sev
echo:
    ldr r0, [r7, #0x50]
    lsls r0, r0, #31
    bmi answered
    wfe
    b echo
answered:
    ldr r0, [r7, #0x58]
    adds r5, #1
    cmp r0, r4
    beq next
    movs r5, #0
    b next
launched:
    ldr r0, [r7, #0x50]
    lsls r0, r0, #31
    bmi result
    wfe
    b launched
result:
    ldr r1, [r7, #0x58]
    movs r0, #0
    bkpt #0

core1:
    ldr r7, =0xd0000000
    ldr r1, [r7, #0]
    adds r1, #41
    str r1, [r7, #0x54]
    sev
sleep:
    wfe
    b sleep

    .align 2
sequence:
    .word 0, 0, 1, 0x10000100, 0x20041000, core1 + 1
`;

/** Loops for ever: for the register-level tests, which drive both cores' buses themselves. */
const IDLE = `
    b start
`;

describe('emulator/second-core: core 1, the inter-core FIFOs and the spinlocks', function () {
  needs('arm-none-eabi-gcc');
  this.timeout(120_000);

  /** Core 0's and core 1's views of the bus, as their load and store instructions see it. */
  function cores(emu: Rp2040Emulator) {
    const view = (core: Rp2040Emulator['mcu']['core']) => ({
      read: (address: number) => core.readUint32(address) >>> 0,
      write: (address: number, value: number) => core.writeUint32(address, value),
    });
    return [view(emu.mcu.core), view(emu.core1.core)] as const;
  }

  /** Launches core 1 by hand through the modelled ROM (no ROM image): core 0's FIFO drained, then each word echoed; returns the echoes. */
  function launchByHand(emu: Rp2040Emulator, entry: number): number[] {
    const [core0] = cores(emu);
    while (core0.read(FIFO_ST) & FIFO_VLD) core0.read(FIFO_RD);
    const echoes: number[] = [];
    for (const word of [0, 0, 1, 0x10000100, 0x20041000, entry]) {
      core0.write(FIFO_WR, word);
      echoes.push(core0.read(FIFO_RD));
    }
    return echoes;
  }

  it("without the ROM image, core 1 waits in the harness's model of the ROM: a 0 pushed at reset, each launch word echoed, then it runs", () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage(IDLE));
    const [core0] = cores(emu);
    expect(emu.core1.inRomWait).to.equal(true);
    expect(emu.core1.awake).to.equal(false);
    // the ROM drains its FIFO and pushes 0 to core 0 when core 1 comes out of reset
    expect(core0.read(FIFO_ST)).to.equal(FIFO_VLD | FIFO_RDY);
    expect(core0.read(FIFO_RD)).to.equal(0);
    // a wrong word restarts the sequence (still echoed); a full one launches core 1
    core0.write(FIFO_WR, 7);
    expect(core0.read(FIFO_RD)).to.equal(7);
    expect(emu.core1.inRomWait).to.equal(true);
    expect(launchByHand(emu, 0x10000141)).to.deep.equal([0, 0, 1, 0x10000100, 0x20041000, 0x10000141]);
    expect(emu.core1.inRomWait).to.equal(false);
    expect(emu.core1.awake).to.equal(true);
    const core = emu.core1.core;
    expect([core.PC, core.SP, core.VTOR]).to.deep.equal([0x10000140, 0x20041000, 0x10000100]);
  });

  it('CPUID is 0 on core 0 and 1 on core 1; each core has its own divider', () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage(IDLE));
    const [core0, core1] = cores(emu);
    expect(core0.read(CPUID)).to.equal(0);
    expect(core1.read(CPUID)).to.equal(1);
    core0.write(DIV_UDIVIDEND, 100);
    core0.write(DIV_UDIVISOR, 7);
    core1.write(DIV_UDIVIDEND, 1000);
    core1.write(DIV_UDIVISOR, 10);
    expect(core0.read(DIV_QUOTIENT)).to.equal(14);
    expect(core1.read(DIV_QUOTIENT)).to.equal(100);
  });

  it('the FIFOs hold 8 words each way: RDY until full, a write to a full FIFO lost (WOF), a read of an empty one 0 (ROE); SIO_IRQ_PROCn on its own core only', () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage(IDLE));
    launchByHand(emu, 0x10000141);
    const [core0, core1] = cores(emu);
    expect(core1.read(FIFO_ST)).to.equal(FIFO_RDY);
    for (let i = 1; i <= FIFO_DEPTH; i++) {
      expect(core0.read(FIFO_ST) & FIFO_RDY, `word ${i}`).to.equal(FIFO_RDY);
      core0.write(FIFO_WR, 100 + i);
    }
    expect(core0.read(FIFO_ST)).to.equal(0); // full, nothing for core 0
    core0.write(FIFO_WR, 999);
    expect(core0.read(FIFO_ST)).to.equal(FIFO_WOF);
    expect(core1.read(FIFO_ST)).to.equal(FIFO_VLD | FIFO_RDY);
    // VLD raises SIO_IRQ_PROC1 in core 1's NVIC, not in core 0's; core 0's WOF raises SIO_IRQ_PROC0
    expect(emu.core1.core.pendingInterrupts & (1 << IRQ_SIO_PROC1)).to.not.equal(0);
    expect(emu.mcu.core.pendingInterrupts & (1 << IRQ_SIO_PROC1)).to.equal(0);
    expect(emu.mcu.core.pendingInterrupts & (1 << IRQ_SIO_PROC0)).to.not.equal(0);
    const received = Array.from({ length: FIFO_DEPTH }, () => core1.read(FIFO_RD));
    expect(received).to.deep.equal([101, 102, 103, 104, 105, 106, 107, 108]);
    expect(core1.read(FIFO_RD)).to.equal(0);
    expect(core1.read(FIFO_ST)).to.equal(FIFO_RDY | FIFO_ROE);
    core1.write(FIFO_ST, FIFO_ROE);
    core0.write(FIFO_ST, FIFO_WOF);
    expect(core1.read(FIFO_ST)).to.equal(FIFO_RDY);
    expect(core0.read(FIFO_ST)).to.equal(FIFO_RDY);
    expect(emu.core1.core.pendingInterrupts & (1 << IRQ_SIO_PROC1)).to.equal(0);
    expect(emu.mcu.core.pendingInterrupts & (1 << IRQ_SIO_PROC0)).to.equal(0);
    // and back: core 1 to core 0
    core1.write(FIFO_WR, 42);
    expect(core0.read(FIFO_ST)).to.equal(FIFO_VLD | FIFO_RDY);
    expect(core0.read(FIFO_RD)).to.equal(42);
  });

  it('the 32 spinlocks are shared: a read claims a free lock (nonzero) and gives 0 while the other core holds it; a write releases it', () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage(IDLE));
    const [core0, core1] = cores(emu);
    expect(core0.read(SPINLOCK(5))).to.equal(1 << 5);
    expect(core1.read(SPINLOCK(5))).to.equal(0);
    expect(core1.read(SPINLOCK(31))).to.equal((1 << 31) >>> 0);
    expect(core0.read(SPINLOCK_ST)).to.equal(((1 << 5) | (1 << 31)) >>> 0);
    expect(core1.read(SPINLOCK_ST)).to.equal(((1 << 5) | (1 << 31)) >>> 0);
    core0.write(SPINLOCK(5), 0);
    expect(core1.read(SPINLOCK(5))).to.equal(1 << 5);
    expect(core0.read(SPINLOCK(5))).to.equal(0);
  });

  it('PSM FRCE_OFF.PROC1 holds core 1 in reset; releasing it restarts core 1 in the ROM, which pushes 0 to core 0 again', () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage(IDLE));
    launchByHand(emu, 0x10000141);
    const [core0] = cores(emu);
    expect(core0.read(FIFO_ST) & FIFO_VLD).to.equal(0);
    core0.write(PSM_FRCE_OFF + 0x2000, PSM_PROC1); // the atomic set alias, as pico-sdk writes it
    expect(emu.core1.held).to.equal(true);
    expect(emu.core1.awake).to.equal(false);
    core0.write(PSM_FRCE_OFF + 0x3000, PSM_PROC1); // the clear alias
    expect(emu.core1.held).to.equal(false);
    expect(emu.core1.inRomWait).to.equal(true);
    expect(core0.read(FIFO_RD)).to.equal(0);
    expect(launchByHand(emu, 0x10000141)).to.deep.equal([0, 0, 1, 0x10000100, 0x20041000, 0x10000141]);
  });

  it('a program launches core 1 and sleeps in WFE until its answer: SEV wakes each core (no ROM image)', async () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage(LAUNCH));
    const result = await emu.run({ maxCycles: 1e6, maxSeconds: 30 });
    expect(result.reason).to.equal('break');
    expect(emu.mcu.core.registers[1]).to.equal(42); // core 1's CPUID + 41
    expect(emu.core1.core.waiting).to.equal(true); // asleep in its WFE loop
    expect(result.cycles).to.be.below(5000);
  });

  it("with the boot ROM, core 1 runs the ROM's own wait loop, and the same program launches it through the ROM", async function () {
    requireBootRom(this);
    const emu = Rp2040Emulator.fromImage(assemblyImage(LAUNCH), 0x10000000, { bootRom: readBootRom() });
    expect(emu.core1.inRomWait).to.equal(false); // the harness plays no ROM: the ROM's code runs on core 1
    expect(emu.core1.core.PC).to.be.below(0x4000); // from the ROM's reset vector
    const result = await emu.run({ maxCycles: 5e6, maxSeconds: 30 });
    expect(result.reason).to.equal('break');
    expect(emu.mcu.core.registers[1]).to.equal(42);
    expect(emu.core1.core.VTOR).to.equal(0x10000100); // set by the ROM from the launch sequence
    expect(emu.core1.core.PC >>> 28).to.equal(1); // core 1 runs from flash
  });
});
