/**
 * The W25Q-JV flash chip model (src/emulator/qspi-flash.ts) against its datasheet: each
 * instruction's wire format (lines, dummy clocks, mode bits), the status registers and the Quad
 * Enable bit with the tW busy time, the identification instructions, continuous read mode and
 * the software reset.
 */
import { expect } from 'chai';
import { QspiFlash, SR1_BUSY, SR1_WEL, SR2_QE, W25Q128JV, W25Q16JV } from '../../src/emulator/qspi-flash.js';

/** A memory whose byte i is a function of i that differs at every offset of a word. */
function patterned(size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (i * 37 + (i >> 8) * 11 + 5) & 0xff;
  return m;
}

const ADDRESS = 0x012345;

function addressBytes(a: number): number[] {
  return [(a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff];
}

/** A whole transaction: instruction and arguments on one line, then `read` bytes. */
function transact(chip: QspiFlash, sent: number[], read = 0): number[] {
  chip.select();
  chip.exchange(sent, 1);
  const got = chip.exchange(new Array(read).fill(0xff), 1);
  chip.deselect();
  return got;
}

function expected(memory: Uint8Array, from: number, count: number): number[] {
  return Array.from(memory.subarray(from, from + count));
}

/** 06h then 01h with status registers 1 and 2. */
function writeStatus(chip: QspiFlash, sr1: number, sr2: number): void {
  transact(chip, [0x06]);
  transact(chip, [0x01, sr1, sr2]);
}

describe('emulator/qspi-flash: the W25Q16JV / W25Q128JV flash chip model', () => {
  let now = 0;
  const clock = () => now;
  let memory: Uint8Array;
  let chip: QspiFlash;
  beforeEach(() => {
    now = 0;
    memory = patterned(W25Q16JV.capacityBytes);
    chip = new QspiFlash(W25Q16JV, memory, clock);
  });

  it('answers 9Fh with EF 40 15 (W25Q16JV) and EF 40 18 (W25Q128JV), ABh with device id 14h / 17h after 3 dummy bytes', () => {
    expect(transact(chip, [0x9f], 3)).to.deep.equal([0xef, 0x40, 0x15]);
    const big = new QspiFlash(W25Q128JV, new Uint8Array(W25Q128JV.capacityBytes));
    expect(transact(big, [0x9f], 3)).to.deep.equal([0xef, 0x40, 0x18]);
    expect(transact(chip, [0xab, 0, 0, 0], 2)).to.deep.equal([0x14, 0x14]);
    expect(transact(big, [0xab, 0, 0, 0], 1)).to.deep.equal([0x17]);
  });

  it('reads 4Bh: 4 dummy bytes, then the 64-bit unique id', () => {
    expect(transact(chip, [0x4b, 0, 0, 0, 0], 8)).to.deep.equal([...chip.uniqueId]);
  });

  it('reads 03h from a 24-bit address on one line, with no dummy clocks, and wraps at the end of the array', () => {
    expect(transact(chip, [0x03, ...addressBytes(ADDRESS)], 8)).to.deep.equal(expected(memory, ADDRESS, 8));
    const end = W25Q16JV.capacityBytes - 2;
    expect(transact(chip, [0x03, ...addressBytes(end)], 4)).to.deep.equal([memory[end], memory[end + 1], memory[0], memory[1]]);
  });

  it('reads 0Bh after 8 dummy clocks; reading as if there were none gives other bytes', () => {
    expect(transact(chip, [0x0b, ...addressBytes(ADDRESS), 0x00], 4)).to.deep.equal(expected(memory, ADDRESS, 4));
    expect(transact(chip, [0x0b, ...addressBytes(ADDRESS)], 4)).to.not.deep.equal(expected(memory, ADDRESS, 4));
  });

  it('reads 3Bh: command and address on one line, 8 dummy clocks, data on IO1..IO0', () => {
    chip.select();
    chip.exchange([0x3b, ...addressBytes(ADDRESS)], 1);
    chip.idle(8);
    const got = chip.exchange([0xff, 0xff, 0xff, 0xff], 2);
    chip.deselect();
    expect(got).to.deep.equal(expected(memory, ADDRESS, 4));
  });

  it('ignores the quad instructions (6Bh, EBh) until Quad Enable (SR2 bit 1) is set, then reads on four lines', () => {
    const quadOutput = () => {
      chip.select();
      chip.exchange([0x6b, ...addressBytes(ADDRESS)], 1);
      chip.idle(8);
      const got = chip.exchange([0xff, 0xff, 0xff, 0xff], 4);
      chip.deselect();
      return got;
    };
    expect(quadOutput()).to.deep.equal([0xff, 0xff, 0xff, 0xff]); // nobody drives the lines
    writeStatus(chip, 0, SR2_QE);
    now += W25Q16JV.statusWriteNanos;
    expect(quadOutput()).to.deep.equal(expected(memory, ADDRESS, 4));
  });

  it('reads BBh: address and mode bits on two lines, no dummy clocks; M5-4 = 10b keeps it in continuous read mode', () => {
    chip.select();
    chip.exchange([0xbb], 1);
    chip.exchange([...addressBytes(ADDRESS), 0x20], 2);
    expect(chip.exchange([0xff, 0xff], 2)).to.deep.equal(expected(memory, ADDRESS, 2));
    chip.deselect();
    expect(chip.continuousRead).to.equal(0xbb);
    // the next read starts with the address: no instruction
    chip.select();
    chip.exchange([...addressBytes(0x100), 0xff], 2); // M5-4 = 11b: this is the last one
    expect(chip.exchange([0xff, 0xff], 2)).to.deep.equal(expected(memory, 0x100, 2));
    chip.deselect();
    expect(chip.continuousRead).to.equal(undefined);
  });

  it('reads EBh: address and mode bits on four lines, 4 dummy clocks; with A0h the next read needs no instruction', () => {
    writeStatus(chip, 0, SR2_QE);
    now += W25Q16JV.statusWriteNanos;
    const quadRead = (address: number, mode: number, instruction: boolean) => {
      chip.select();
      if (instruction) chip.exchange([0xeb], 1);
      chip.exchange([...addressBytes(address), mode], 4);
      chip.idle(4);
      const got = chip.exchange([0xff, 0xff, 0xff, 0xff], 4);
      chip.deselect();
      return got;
    };
    expect(quadRead(ADDRESS, 0xa0, true)).to.deep.equal(expected(memory, ADDRESS, 4));
    expect(chip.continuousRead).to.equal(0xeb);
    expect(quadRead(0x2000, 0xa0, false)).to.deep.equal(expected(memory, 0x2000, 4));
    expect(quadRead(0x3000, 0x00, false)).to.deep.equal(expected(memory, 0x3000, 4)); // ends continuous mode
    expect(chip.continuousRead).to.equal(undefined);
    // now an EBh address without the instruction is taken as an instruction: nothing comes back
    expect(quadRead(0x2000, 0xa0, false)).to.deep.equal([0xff, 0xff, 0xff, 0xff]);
  });

  it('reads status registers 1, 2, 3 with 05h, 35h, 15h, over and over while clocked', () => {
    expect(transact(chip, [0x05], 2)).to.deep.equal([0, 0]);
    transact(chip, [0x06]);
    expect(transact(chip, [0x05], 3)).to.deep.equal([SR1_WEL, SR1_WEL, SR1_WEL]);
    expect(transact(chip, [0x35], 1)).to.deep.equal([0]);
    expect(transact(chip, [0x15], 1)).to.deep.equal([chip.status(3)]);
  });

  it('writes status registers only after 06h, is busy for tW (BUSY = 1, other instructions ignored), then clears WEL', () => {
    transact(chip, [0x01, 0, SR2_QE]); // no Write Enable: ignored
    expect(chip.status(2) & SR2_QE).to.equal(0);
    writeStatus(chip, 0, SR2_QE);
    expect(transact(chip, [0x05], 1)[0] & (SR1_BUSY | SR1_WEL)).to.equal(SR1_BUSY | SR1_WEL);
    expect(transact(chip, [0x9f], 3)).to.deep.equal([0xff, 0xff, 0xff]); // ignored while busy
    now += W25Q16JV.statusWriteNanos - 1;
    expect(chip.status(1) & SR1_BUSY).to.equal(SR1_BUSY);
    now += 1;
    expect(transact(chip, [0x05], 1)).to.deep.equal([0]); // BUSY and WEL clear
    expect(transact(chip, [0x35], 1)).to.deep.equal([SR2_QE]);
    // 31h writes register 2 alone
    transact(chip, [0x06]);
    transact(chip, [0x31, 0]);
    now += W25Q16JV.statusWriteNanos;
    expect(chip.status(2)).to.equal(0);
  });

  it('drops a status write that does not end on a byte boundary, and a Write Enable followed by more clocks', () => {
    transact(chip, [0x06]);
    chip.select();
    chip.exchange([0x31], 1);
    for (let i = 0; i < 5; i++) chip.clock(0xf); // 5 bits of a byte
    chip.deselect();
    expect(chip.status(1) & SR1_BUSY).to.equal(0);
    const fresh = new QspiFlash(W25Q16JV, memory, clock);
    fresh.select();
    fresh.exchange([0x06], 1);
    fresh.clock(0xf);
    fresh.deselect();
    expect(fresh.status(1) & SR1_WEL).to.equal(0);
  });

  it('powers down on B9h (only ABh is heard), and resets on 66h then 99h (heard only once out of continuous read mode)', () => {
    transact(chip, [0xb9]);
    expect(transact(chip, [0x9f], 3)).to.deep.equal([0xff, 0xff, 0xff]);
    transact(chip, [0xab]);
    expect(transact(chip, [0x9f], 3)).to.deep.equal([0xef, 0x40, 0x15]);

    chip.select();
    chip.exchange([0xbb], 1);
    chip.exchange([...addressBytes(0), 0x20, 0xff], 2);
    chip.deselect();
    expect(chip.continuousRead).to.equal(0xbb);
    // in continuous read mode every transaction is a read: the ROM's way out is mode bits ≠ 10b
    chip.select();
    chip.exchange([0xff, 0xff, 0xff, 0xff], 2);
    chip.deselect();
    transact(chip, [0x99]); // 99h without 66h just before: nothing
    transact(chip, [0x06]);
    expect(chip.status(1) & SR1_WEL).to.equal(SR1_WEL);
    transact(chip, [0x66]);
    transact(chip, [0x99]);
    expect(chip.status(1) & SR1_WEL).to.equal(0);
  });
});
