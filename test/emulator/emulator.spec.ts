/**
 * The rp2040js harness (src/emulator/rp2040.ts) on tiny programs: every way a run stops, and
 * that it always stops.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmulatorError, Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { encodeUf2 } from '../../src/firmware-image/uf2.js';
import { tempDir } from '../helpers/fixtures.js';
import { assemblyImage } from '../helpers/rp2040-program.js';
import { needs } from '../helpers/needs.js';

const UART0_DR = 0x40034000;

describe('emulator/rp2040 harness', function () {
  needs('arm-none-eabi-gcc');
  this.timeout(120_000);

  it('stops on a breakpoint with its immediate and r0', async () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage('    movs r0, #99\n    bkpt #5\n'));
    const result = await emu.run({ maxSeconds: 10 });
    expect(result).to.include({ reason: 'break', breakCode: 5, exitCode: 99 });
  });

  it('stops at a cycle budget in an endless loop', async () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage('1:  b 1b\n'));
    const result = await emu.run({ maxCycles: 1_000_000, maxSeconds: 30 });
    expect(result.reason).to.equal('cycles');
    expect(result.runCycles).to.be.within(1_000_000, 1_000_010);
    const again = await emu.run({ maxCycles: 500 });
    expect(again.runCycles).to.be.within(500, 510);
    expect(again.cycles).to.equal(result.cycles + again.runCycles);
  });

  it('stops at the wall-clock budget, even when the core sleeps with nothing to wake it', async () => {
    for (const loop of ['1:  b 1b\n', '    cpsid i\n1:  wfi\n    b 1b\n']) {
      const emu = Rp2040Emulator.fromImage(assemblyImage(loop));
      const started = Date.now();
      const result = await emu.run({ maxSeconds: 0.3 });
      expect(result.reason).to.equal('timeout');
      expect(Date.now() - started).to.be.within(250, 20_000); // not before the budget; the upper bound only guards against a hang on a loaded box
    }
  });

  it('stops when the output matches, and hands every byte to listeners as it is sent', async () => {
    const emu = Rp2040Emulator.fromImage(
      assemblyImage(`    ldr r0, =${UART0_DR}
    movs r1, #0x61
1:  str r1, [r0]
    adds r1, #1
    cmp r1, #0x7b
    bne 1b
    movs r1, #0x0a
    str r1, [r0]
2:  b 2b
`),
    );
    const seen: number[] = [];
    emu.onUartByte((b) => seen.push(b));
    const result = await emu.run({ maxSeconds: 10, until: (out) => out.endsWith('\n') });
    expect(result.reason).to.equal('until');
    expect(result.output).to.equal('abcdefghijklmnopqrstuvwxyz\n');
    expect(Buffer.from(seen).toString()).to.equal(result.output);
  });

  it('reports an instruction the Cortex-M0+ does not have instead of running on', async () => {
    const emu = Rp2040Emulator.fromImage(assemblyImage('    .inst.w 0xf8d00000\n    bkpt #0\n')); // ldr.w: Thumb-2, not ARMv6-M
    let error: unknown;
    try {
      await emu.run({ maxSeconds: 10 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(EmulatorError);
    expect((error as Error).message).to.match(/stopped the firmware near pc=0x1000010[0-9a-f].*not implemented/s);
  });

  it('loads a flat image or a UF2 file from disk', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const image = assemblyImage('    movs r0, #7\n    bkpt #1\n');
      writeFileSync(join(dir, 'a.bin'), image);
      writeFileSync(join(dir, 'a.uf2'), encodeUf2(image));
      for (const file of ['a.bin', 'a.uf2']) {
        const result = await (await Rp2040Emulator.load(join(dir, file))).run({ maxSeconds: 10 });
        expect(result).to.include({ reason: 'break', exitCode: 7 });
      }
      writeFileSync(join(dir, 'a.elf'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]));
      let elfError: unknown;
      await Rp2040Emulator.load(join(dir, 'a.elf')).catch((err) => (elfError = err));
      expect((elfError as Error).message).to.match(/is an ELF file; load the flat image \(firmware.bin\) or the UF2 file/);
      writeFileSync(join(dir, 'b.uf2'), encodeUf2(image, { baseAddress: 0x20000000 }));
      let error: unknown;
      await Rp2040Emulator.load(join(dir, 'b.uf2')).catch((err) => (error = err));
      expect((error as Error).message).to.match(/must lie in flash/);
    } finally {
      cleanup();
    }
  });
});
