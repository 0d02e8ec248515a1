/**
 * The RP2040 runtime end to end: build test/firmware/hello with the cross compiler, our boot2,
 * startup code and linker script, wrap it in UF2, and run it in rp2040js. It must boot through
 * boot2, set up its clocks and UART, compute what TypeScript computes (soft float bit for bit),
 * time it consistently with the emulator's own cycle count, echo what it is sent, and exit.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator, type RunResult } from '../../src/emulator/rp2040.js';
import { boot2Crc, buildBoot2, firmwareDir, type Boot2Variant } from '../../src/firmware-image/boot2.js';
import { rp2040LinkerScript } from '../../src/firmware-image/linker-script.js';
import { decodeUf2, encodeUf2, RP2040_FAMILY_ID } from '../../src/firmware-image/uf2.js';
import { projectRoot } from '../../src/util/project-root.js';
import { loadTarget } from '../../src/plan/target.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

interface Firmware {
  dir: string;
  elf: string;
  bin: Buffer;
  uf2: string;
  boot2: Buffer;
}

/** The build flow a generated RP2040 project follows: runtime + app, memmap.ld, boot2.bin, make, UF2. */
function buildHello(dir: string, options: { boot2?: Boot2Variant; defines?: string[] } = {}): Firmware {
  const target = loadTarget('rp2040');
  const spec = target.firmware!;
  for (const file of readdirSync(firmwareDir())) copyFileSync(join(firmwareDir(), file), join(dir, file));
  copyFileSync(join(projectRoot(), 'test', 'firmware', 'hello', 'main.c'), join(dir, 'main.c'));
  writeFileSync(join(dir, 'memmap.ld'), rp2040LinkerScript({ flashBytes: spec.flashBytes, stackBytes: spec.stackBytes }));
  const boot2 = buildBoot2({ variant: options.boot2 ?? spec.boot2, outFile: join(dir, 'boot2.bin'), cc: target.toolchain.cc });
  const make = spawnSync(
    'make',
    [
      '-C',
      dir,
      '-j4',
      `CFLAGS=${target.toolchain.cflags.join(' ')}`,
      `LDFLAGS=${target.toolchain.ldflags.join(' ')}`,
      `DEFINES=${(options.defines ?? []).join(' ')}`,
      'APP_SOURCES=main.c',
    ],
    { encoding: 'utf8' },
  );
  if (make.status !== 0) throw new Error(`building the hello firmware failed:\n${make.stdout}\n${make.stderr}`);
  const bin = readFileSync(join(dir, 'firmware.bin'));
  const uf2 = join(dir, 'firmware.uf2');
  writeFileSync(uf2, encodeUf2(bin));
  return { dir, elf: join(dir, 'firmware.elf'), bin, uf2, boot2 };
}

/** What the firmware computes, computed again here. */
function expectedValues() {
  const f = Math.fround;
  let harmonic = 0;
  for (let i = 1; i <= 100; i++) harmonic = f(harmonic + f(1 / i));
  let state = 12345;
  const nextInt8 = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return ((state >>> 24) << 24) >> 24;
  };
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < 1000; i++) {
    xs.push(nextInt8());
    ys.push(nextInt8());
  }
  const dot = (n: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + xs[i] * ys[i]) | 0;
    return s;
  };
  let fdot = 0;
  for (let i = 0; i < 100; i++) fdot = f(fdot + f(f(xs[i] / 64) * f(ys[i] / 32)));
  let checksum = 0;
  for (let r = 0; r < 2000; r++) checksum = (checksum + dot(1000 - (r & 1))) | 0;
  return { floatSumBits: bits(harmonic), dotInt8: dot(1000), dotFloatBits: bits(fdot), benchChecksum: checksum };
}

function bits(x: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  return view.getUint32(0).toString(16).padStart(8, '0');
}

function values(output: string): Map<string, string> {
  return new Map([...output.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
}

function sectionHeaders(elf: string): Map<string, { size: number; vma: number }> {
  const out = spawnSync('arm-none-eabi-objdump', ['-h', elf], { encoding: 'utf8' }).stdout;
  return new Map(
    [...out.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]{8})\s+([0-9a-f]{8})/gm)].map((m) => [
      m[1],
      { size: parseInt(m[2], 16), vma: parseInt(m[3], 16) },
    ]),
  );
}

function symbol(elf: string, name: string): number {
  const out = spawnSync('arm-none-eabi-nm', [elf], { encoding: 'utf8' }).stdout;
  const match = new RegExp(`^([0-9a-f]{8}) \\w ${name}$`, 'm').exec(out);
  if (!match) throw new Error(`no symbol ${name} in ${elf}`);
  return parseInt(match[1], 16);
}

/** Runs hello to its prompt, types `input`, runs it to the end; records the emulator's cycle count at each line end. */
async function runHello(
  path: string,
  input: string | undefined,
): Promise<{ emu: Rp2040Emulator; result: RunResult; seconds: number; lineCycles: Map<string, number> }> {
  const emu = await Rp2040Emulator.load(path);
  const lineCycles = new Map<string, number>();
  let line = '';
  emu.onUartByte((byte) => {
    if (byte === 10) {
      lineCycles.set(line.split('=')[0], emu.cycles);
      line = '';
    } else line += String.fromCharCode(byte);
  });
  const prompt = await emu.run({ maxSeconds: 120, until: (out) => out.includes('ready for 8 bytes\n') });
  expect(prompt.reason, prompt.output).to.equal('until');
  if (input !== undefined) emu.writeUart(input);
  const result = await emu.run({ maxSeconds: 120 });
  return { emu, result, seconds: prompt.seconds + result.seconds, lineCycles };
}

describe('firmware/rp2040: the hello firmware in rp2040js', function () {
  needs('arm-none-eabi-gcc', 'make');
  this.timeout(600_000);
  const expected = expectedValues();

  describe('built as the rp2040 target says (safe boot2, 133 MHz)', () => {
    let tmp: { dir: string; cleanup: () => void };
    let firmware: Firmware;
    let run: Awaited<ReturnType<typeof runHello>>;

    before(async () => {
      tmp = tempDir('llama2-embed-rp2040-');
      firmware = buildHello(tmp.dir);
      run = await runHello(firmware.uf2, 'rp2040!?');
    });
    after(() => tmp.cleanup());

    it('puts boot2 (256 bytes) at 0x10000000 and the vector table at 0x10000100', () => {
      const headers = sectionHeaders(firmware.elf);
      expect(headers.get('.boot2')).to.deep.equal({ size: 256, vma: 0x10000000 });
      expect(headers.get('.text')!.vma).to.equal(0x10000100);
      expect(symbol(firmware.elf, '__vectors')).to.equal(0x10000100);
      expect(firmware.bin.readUInt32LE(0x100)).to.equal(0x20042000); // initial SP: the top of SRAM
      expect(firmware.bin.readUInt32LE(0x104)).to.equal(symbol(firmware.elf, 'reset_handler') | 1);
    });

    it('starts the flat image with boot2 and its CRC, and wraps it in UF2 losslessly', () => {
      expect(firmware.bin.subarray(0, 256).equals(firmware.boot2)).to.equal(true);
      expect(boot2Crc(firmware.bin).ok).to.equal(true);
      const decoded = decodeUf2(readFileSync(firmware.uf2), { familyId: RP2040_FAMILY_ID });
      expect(decoded.baseAddress).to.equal(0x10000000);
      expect(decoded.image.subarray(0, firmware.bin.length).equals(firmware.bin)).to.equal(true);
      expect(decoded.blockCount).to.equal(Math.ceil(firmware.bin.length / 256));
    });

    it('greets, computes what TypeScript computes (soft float bit for bit), echoes, and exits with 0', () => {
      const { result } = run;
      expect(result.reason, result.output).to.equal('break');
      expect(result.breakCode).to.equal(0);
      expect(result.exitCode).to.equal(0);
      expect(result.output.startsWith('hello from rp2040\n')).to.equal(true);
      const v = values(result.output);
      expect(v.get('clk_sys_hz')).to.equal('133000000');
      expect(v.get('float_sum_bits')).to.equal(expected.floatSumBits);
      expect(Number(v.get('dot_int8'))).to.equal(expected.dotInt8);
      expect(Number(v.get('dot_int8_sram'))).to.equal(expected.dotInt8);
      expect(v.get('dot_float_bits')).to.equal(expected.dotFloatBits);
      expect(Number(v.get('bench_checksum'))).to.equal(expected.benchChecksum);
      expect(result.output).to.contain('ready for 8 bytes\necho: rp2040!?\nbye\n');
    });

    it('runs the clocks and UART as configured: clk_sys 133 MHz, 115200 baud', () => {
      expect(run.emu.clockHz).to.equal(133_000_000);
      expect(Math.abs(run.emu.uartBaud! - 115200) / 115200).to.be.below(0.001);
      // The only register the runtime writes that rp2040js does not model is the SSI's SER (boot2).
      expect(run.emu.warnings.count, run.emu.warnings.first.join('\n')).to.be.at.most(1);
    });

    it('counts cycles with SysTick exactly as the emulator does, and microseconds as cycles / 133', () => {
      const v = values(run.result.output);
      const benchCycles = Number(v.get('bench_cycles'));
      // The measurement starts after the elapsed_cycles line and ends before the bench_cycles line.
      const window = run.lineCycles.get('bench_cycles')! - run.lineCycles.get('elapsed_cycles')!;
      expect(benchCycles).to.be.at.most(window);
      expect(benchCycles).to.be.at.least(window - 10_000); // printing two lines with numbers (64-bit divisions)
      expect(Math.abs(Number(v.get('bench_us')) - benchCycles / 133) / (benchCycles / 133)).to.be.below(0.002);
      const elapsedCycles = Number(v.get('elapsed_cycles'));
      expect(Math.abs(Number(v.get('elapsed_us')) - elapsedCycles / 133)).to.be.below((elapsedCycles / 133) * 0.02 + 2);
    });

    it('measures an int8 dot product at about 10 cycles per element (and a soft-float MAC at a few hundred)', () => {
      const v = values(run.result.output);
      const overhead = Number(v.get('cycles_overhead'));
      const perInt8 = (Number(v.get('dot_int8_cycles')) - overhead) / 1000;
      const perInt8Sram = (Number(v.get('dot_int8_sram_cycles')) - overhead) / 1000;
      const perFloat = (Number(v.get('dot_float_cycles')) - overhead) / 100;
      const benchPerElement = Number(v.get('bench_cycles')) / (2000 * 999.5);
      console.log(
        `      int8 MAC ${perInt8.toFixed(2)} cycles/element (from SRAM ${perInt8Sram.toFixed(2)}, over 2M elements ${benchPerElement.toFixed(2)}); ` +
          `float MAC ${perFloat.toFixed(0)} cycles; emulator ${(run.result.cycles / run.seconds / 1e6).toFixed(0)} MHz (${run.result.cycles} cycles in ${run.seconds.toFixed(2)} s)`,
      );
      expect(perInt8).to.be.within(8, 14);
      expect(perInt8Sram).to.be.within(8, 14);
      expect(perFloat).to.be.within(100, 600);
    });
  });

  describe('other builds', () => {
    let tmp: { dir: string; cleanup: () => void };
    beforeEach(() => {
      tmp = tempDir('llama2-embed-rp2040-');
    });
    afterEach(() => tmp.cleanup());

    it('boots through the fast boot2 as well', async () => {
      buildHello(tmp.dir, { boot2: 'fast' });
      const { result } = await runHello(join(tmp.dir, 'firmware.bin'), '12345678');
      expect(result.exitCode, result.output).to.equal(0);
      expect(values(result.output).get('dot_int8')).to.equal(String(expected.dotInt8));
      expect(result.output).to.contain('echo: 12345678\n');
    });

    it("runs with RP2040_SKIP_CLOCKS on the emulator's default 125 MHz, and times out waiting for input", async () => {
      const firmware = buildHello(tmp.dir, { defines: ['-DRP2040_SKIP_CLOCKS'] });
      const { emu, result } = await runHello(firmware.uf2, undefined);
      expect(emu.clockHz).to.equal(125_000_000);
      expect(Math.abs(emu.uartBaud! - 115200) / 115200).to.be.below(0.001);
      expect(values(result.output).get('clk_sys_hz')).to.equal('125000000');
      expect(values(result.output).get('float_sum_bits')).to.equal(expected.floatSumBits);
      expect(result.output).to.contain('echo: \necho timed out after 0 bytes\nbye\n');
      expect(result.exitCode).to.equal(3);
    });
  });

  it('feeds UART input no faster than the 32-byte receive FIFO takes it', async () => {
    const tmp = tempDir('llama2-embed-rp2040-');
    try {
      const firmware = buildHello(tmp.dir);
      const emu = await Rp2040Emulator.load(firmware.uf2);
      const input = Buffer.from(Array.from({ length: 100 }, (_, i) => 65 + (i % 26)));
      emu.writeUart(input);
      expect(emu.pendingUartBytes).to.equal(100 - 32);
      const result = await emu.run({ maxSeconds: 120 });
      expect(result.exitCode, result.output).to.equal(0);
      // The firmware read 8 of the 32 the FIFO held; the harness refilled it with 8 more.
      expect(result.output).to.contain('echo: ABCDEFGH\n');
      expect(emu.pendingUartBytes).to.equal(100 - 32 - 8);
    } finally {
      tmp.cleanup();
    }
  });
});
