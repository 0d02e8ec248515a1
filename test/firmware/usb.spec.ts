/**
 * The USB serial port of the RP2040 runtime (firmware/rp2040/usb.c, usb_cdc.c), in rp2040js with
 * src/emulator/usb-cdc.ts as the computer: test/firmware/usb/main.c is enumerated while it
 * computes without touching USB, its descriptors are what a CDC-ACM device must present, bytes
 * go both ways, line coding round-trips, and the 1200-baud touch is recognized (and reported,
 * since the emulator has no boot ROM to reboot into).
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { readBootRom } from '../../src/emulator/boot-rom.js';
import { EmulatorError, Rp2040Emulator, type LoadOptions } from '../../src/emulator/rp2040.js';
import { runUntil, UsbCdcHost, type LineCoding } from '../../src/emulator/usb-cdc.js';
import { emitGenerationHeader } from '../../src/codegen/firmware.js';
import { projectRoot } from '../../src/util/project-root.js';
import { build } from '../../src/toolchain/build.js';
import { UserError } from '../../src/util/errors.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { buildRp2040Program } from '../helpers/rp2040-program.js';
import { needs, requireBootRom, requireNeeds } from '../helpers/needs.js';

function reports(output: string): Record<string, number> {
  return Object.fromEntries([...output.matchAll(/^(\w+)=(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

describe('rp2040 USB serial (CDC-ACM), in rp2040js', function () {
  needs('arm-none-eabi-gcc', 'make');
  this.timeout(300_000);
  const tmp = tempDir('llama2-embed-usb-');
  let uf2 = '';
  before(() => {
    uf2 = buildRp2040Program(tmp.dir, join(projectRoot(), 'test', 'firmware', 'usb', 'main.c')).uf2;
  });
  after(() => tmp.cleanup());

  /** The firmware running, enumerated and opened by the host while it computed. */
  async function started(options: LoadOptions = {}) {
    const emu = await Rp2040Emulator.load(uf2, options);
    const host = UsbCdcHost.attach(emu);
    const received: number[] = [];
    host.onData((bytes) => received.push(...bytes));
    const run = await runUntil(emu, () => emu.output.includes('busy_irqs='), { maxSeconds: 60 });
    expect(run.satisfied, emu.output).to.equal(true);
    return { emu, host, received, text: () => Buffer.from(received).toString('latin1') };
  }

  it('enumerates while the firmware computes for 20 M cycles without a USB call, and presents a CDC-ACM device', async () => {
    const { emu, host, text } = await started();
    // the interrupt did it all: by the end of the busy loop the port is configured and open
    expect(reports(emu.output)).to.include({ busy_done_configured: 1, busy_done_dtr: 1 });
    expect(host.state).to.equal('open');

    expect(host.device).to.deep.equal({
      bcdUSB: 0x0200,
      deviceClass: 0xef, // miscellaneous / common class / interface association: a composite function
      deviceSubClass: 0x02,
      deviceProtocol: 0x01,
      maxPacketSize0: 64,
      vendorId: 0x2e8a, // Raspberry Pi
      productId: 0x000a, // Raspberry Pi's id for RP2040 programs with a CDC serial port
      bcdDevice: 0x0100,
      manufacturerIndex: 1,
      productIndex: 2,
      serialNumberIndex: 3,
      configurations: 1,
    });
    // rp2040js's SSI answers the flash's unique-id command with zeros: the fixed fallback
    expect(host.names).to.deep.equal({
      manufacturer: 'llama2-embed',
      product: 'llama2-embed on RP2040',
      serialNumber: 'RP2040-NO-FLASH-ID',
    });

    const config = host.configuration!;
    expect(config.totalLength).to.equal(config.raw.length);
    expect(config).to.include({ value: 1, maxPowerMilliamps: 100 });
    expect(config.associations).to.deep.equal([{ firstInterface: 0, count: 2, functionClass: 0x02 }]);
    const [comm, data] = config.interfaces;
    expect(comm).to.deep.include({ number: 0, interfaceClass: 0x02, subClass: 0x02 }); // CDC, abstract control model
    expect(comm.endpoints).to.deep.equal([{ address: 0x81, type: 3, maxPacketSize: 16, interval: 16 }]); // notifications
    expect(comm.functional.map((d) => Array.from(d))).to.deep.equal([
      [5, 0x24, 0x00, 0x10, 0x01], // header, CDC 1.10
      [5, 0x24, 0x01, 0x00, 0x01], // call management: data interface 1
      [4, 0x24, 0x02, 0x02], // ACM: line coding, control line state
      [5, 0x24, 0x06, 0x00, 0x01], // union: 0 controls 1
    ]);
    expect(data).to.deep.include({ number: 1, interfaceClass: 0x0a });
    expect(data.endpoints).to.deep.equal([
      { address: 0x02, type: 2, maxPacketSize: 64, interval: 0 },
      { address: 0x82, type: 2, maxPacketSize: 64, interval: 0 },
    ]);
    // what the firmware wrote before any host was there waited for it
    expect(text()).to.equal('written before the host came\n');
    expect(emu.warnings.first.filter((w) => w.startsWith('[USB]'))).to.deep.equal([]);
  });

  it("carries bytes both ways, more than a packet at a time, and keeps the host's line coding", async () => {
    const { emu, host, received, text } = await started();
    const message = Buffer.from(`${'0123456789abcdef'.repeat(12)}!`); // 193 bytes: 4 OUT packets
    host.write(message);
    await runUntil(emu, () => received.length >= 29 + message.length, { maxSeconds: 30 });
    expect(text()).to.equal(`written before the host came\n${message.toString('latin1')}`);

    let coding: LineCoding | undefined;
    const asked = host
      .setLineCoding({ baud: 9600, stopBits: 2, parity: 2, dataBits: 7 })
      .then(async () => (coding = await host.getLineCoding()));
    await runUntil(emu, () => coding !== undefined, { maxSeconds: 30 });
    await asked;
    expect(coding).to.deep.equal({ baud: 9600, stopBits: 2, parity: 2, dataBits: 7 });
    expect(host.log.filter((s) => s.requestType & 0x20).map((s) => s.request)).to.deep.equal([0x20, 0x22, 0x20, 0x21]);
  });

  it("booted through the boot ROM, names itself by the flash chip's unique id (4Bh), read from the chip model", async function () {
    requireBootRom(this);
    const { emu, host } = await started({ bootRom: readBootRom() });
    expect(emu.boot?.xipVerified).to.equal(true); // boot2 set XIP up again after the 4Bh
    expect(host.names?.serialNumber).to.equal('E6605838832A422F');
  });

  it("booted through the boot ROM, the 1200-baud touch reaches the ROM's reset_usb_boot: the watchdog reboot ends the run with a message", async function () {
    requireBootRom(this);
    const { emu, host } = await started({ bootRom: readBootRom() });
    void host.touch1200();
    let error: unknown;
    try {
      await runUntil(emu, () => false, { maxSeconds: 30 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(EmulatorError);
    expect((error as Error).message).to.match(/rebooted the chip through the watchdog .* reset_usb_boot.*does not model a chip reset/);
    expect(emu.output).to.not.include('no bootrom');
  });

  it('recognizes the 1200-baud touch, and without a boot ROM says so instead of crashing', async () => {
    const { emu, host } = await started();
    let touched = false;
    void host.touch1200().then(() => (touched = true));
    const run = await runUntil(emu, () => touched && emu.output.includes('no bootrom'), { maxSeconds: 30 });
    expect(run.satisfied, emu.output).to.equal(true);
    expect(emu.output).to.include('no bootrom: reboot to BOOTSEL not available\n');
    // the firmware carries on: the port opens again and the statistics count one touch
    let reopened = false;
    void host
      .setLineCoding({ baud: 115200, stopBits: 0, parity: 0, dataBits: 8 })
      .then(() => host.setControlLineState({ dtr: true, rts: true }))
      .then(() => (reopened = true));
    await runUntil(emu, () => reopened, { maxSeconds: 30 });
    host.write(Buffer.from('X'));
    const end = await runUntil(emu, () => false, { maxSeconds: 30 });
    expect(end.reason).to.equal('break');
    expect(reports(emu.output)).to.include({ bootsel_requests: 1, baud: 115200, dropped: 0 });
  });

  it('streams 64 KiB over bulk IN, every byte in order', async () => {
    const { emu, host, received } = await started();
    received.length = 0;
    host.write(Buffer.from('T'));
    const run = await runUntil(emu, () => emu.output.includes('stream_irq_cycles='), { maxSeconds: 120 });
    expect(run.satisfied).to.equal(true);
    await runUntil(emu, () => received.length >= 65536, { maxSeconds: 10 }); // the last packets reach the host 10 µs later
    expect(received.length).to.equal(65536);
    expect(received.every((b, i) => b === (i & 0xff))).to.equal(true);
    const r = reports(emu.output);
    const seconds = r.stream_cycles / 133e6;
    console.log(
      `      64 KiB over USB in ${(r.stream_cycles / 1e6).toFixed(2)} M cycles: ${(65536 / seconds / 1e6).toFixed(2)} MB/s emulated` +
        ` (rp2040js moves a packet in 10 µs; real full speed tops out near 1 MB/s), ${Math.round(r.stream_irq_cycles / (65536 / 64))} interrupt cycles per packet`,
    );
  });

  it('build --stdio: USB by default, UART0 or both on request, and only for rp2040 builds', async function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const g = { promptTokens: [1], steps: 0, temperature: 0, topp: 0.9, seed: 1n, embedTokenizer: false, exitAfterGeneration: false };
    const defines = (stdio?: 'usb' | 'uart' | 'both') =>
      /#define STDIO_USB (\d)\n#define STDIO_UART (\d)/
        .exec(emitGenerationHeader({ ...g, stdio }, ''))!
        .slice(1)
        .join(' ');
    expect([defines(), defines('usb'), defines('uart'), defines('both')]).to.deep.equal(['1 0', '1 0', '0 1', '1 1']);
    let error: unknown;
    try {
      await build(
        {
          target: 'host',
          model: modelPath('stories260K.bin'),
          tokenizer: modelPath('tok512.bin'),
          stdio: 'usb',
          out: join(tmp.dir, 'host'),
        },
        () => {},
      );
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(UserError);
    expect((error as Error).message).to.match(/--stdio applies to rp2040 builds; host has no choice of serial port/);
  });
});
