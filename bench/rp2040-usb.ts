/**
 * The RP2040's USB serial port in rp2040js (firmware/rp2040/usb.c, usb_cdc.c; the host side is
 * src/emulator/usb-cdc.ts):
 *
 *   - throughput: test/firmware/usb/main.c streams 64 KiB over bulk IN; bytes per emulated second
 *     (from the firmware's SysTick) and per wall-clock second. rp2040js completes a packet 10 µs
 *     after it is armed and has no bus: the emulated figure is bounded by the firmware's own
 *     cost per packet, not by USB full speed (≤ ~1.2 MB/s on a real bus);
 *   - cost per token: stories260K (Q8_0) serving one GENERATE of 12 positions, built with
 *     `--stdio usb` and with `--stdio uart`: the device's own total time (DONE) per position for
 *     each, and the cycles spent in USBCTRL_IRQ per position (its counter, read from SRAM).
 *     A UART byte costs a register write in rp2040js, so the difference is the USB stack's cost.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rp2040Emulator } from '../src/emulator/rp2040.js';
import { runUntil, UsbCdcHost } from '../src/emulator/usb-cdc.js';
import { loadForGeneration } from '../src/engine/load.js';
import { projectRoot } from '../src/util/project-root.js';
import { decodeFrame, encodeMessage, FrameDecoder, type Done } from '../src/serial/protocol.js';
import { build } from '../src/toolchain/build.js';
import { buildRp2040Program } from '../test/helpers/rp2040-program.js';

const CLK_HZ = 133e6;
const STEPS = 12;

async function throughput(dir: string) {
  const { uf2 } = buildRp2040Program(dir, join(projectRoot(), 'test', 'firmware', 'usb', 'main.c'));
  const emu = await Rp2040Emulator.load(uf2);
  const host = UsbCdcHost.attach(emu);
  let received = 0;
  host.onData((bytes) => (received += bytes.length));
  await runUntil(emu, () => emu.output.includes('busy_irqs='), { maxSeconds: 120 });
  received = 0;
  host.write(Uint8Array.of('T'.charCodeAt(0)));
  const started = performance.now();
  await runUntil(emu, () => emu.output.includes('stream_irq_cycles=') && received >= 65536, { maxSeconds: 300 });
  const wall = (performance.now() - started) / 1000;
  const value = (key: string) => Number(new RegExp(`^${key}=(\\d+)$`, 'm').exec(emu.output)?.[1]);
  const cycles = value('stream_cycles');
  return {
    bytes: value('stream_bytes'),
    cycles,
    irqCycles: value('stream_irq_cycles'),
    emulatedBytesPerSecond: (value('stream_bytes') / cycles) * CLK_HZ,
    wallBytesPerSecond: received / wall,
  };
}

/** The address of a symbol in the firmware's ELF (arm-none-eabi-nm). */
function symbol(elf: string, name: string): number {
  const nm = spawnSync('arm-none-eabi-nm', [elf], { encoding: 'utf8' });
  const line = nm.stdout.split('\n').find((l) => l.endsWith(` ${name}`));
  if (!line) throw new Error(`${name} not found in ${elf}`);
  return Number.parseInt(line.split(' ')[0], 16);
}

/** One GENERATE of STEPS positions over the firmware's port; the device's DONE and the USB interrupt's cycles. */
async function generation(dir: string, stdio: 'usb' | 'uart') {
  const out = join(dir, `stories-${stdio}`);
  await build({ target: 'rp2040', model: 'stories260K.bin', quant: 'q8_0', steps: 0, stdio, out }, () => {});
  const loaded = loadForGeneration({ model: 'stories260K.bin', weights: 'q8_0' });
  const prompt = loaded.tokenizer.encode('Once upon a time', true, false);
  const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'));
  const fromDevice: number[] = [];
  let send: (bytes: Uint8Array) => void;
  if (stdio === 'usb') {
    const host = UsbCdcHost.attach(emu);
    host.onData((bytes) => fromDevice.push(...bytes));
    send = (bytes) => host.write(bytes);
  } else {
    emu.onUartByte((byte) => fromDevice.push(byte));
    send = (bytes) => emu.writeUart(bytes);
  }
  const messages = () => new FrameDecoder().push(Uint8Array.from(fromDevice)).flatMap((f) => (f.kind === 'frame' ? [decodeFrame(f)] : []));
  await runUntil(emu, () => messages().some((m) => 'message' in m && m.message.type === 'hello'), { maxSeconds: 120 });
  const stats = stdio === 'usb' ? symbol(join(out, 'firmware.elf'), 'usb_stats') : 0;
  const irqCycles = () => (stdio === 'usb' ? emu.mcu.readUint32(stats + 8) + emu.mcu.readUint32(stats + 12) * 2 ** 32 : 0);
  const before = irqCycles();
  send(encodeMessage({ type: 'generate', requestId: 1, steps: STEPS, temperature: 0, topp: 0.9, seed: 1n, prompt }));
  const done = () => messages().flatMap((m) => ('message' in m && m.message.type === 'done' ? [m.message] : []))[0] as Done | undefined;
  await runUntil(emu, () => done() !== undefined, { maxSeconds: 600 });
  const d = done();
  if (!d) throw new Error(`no DONE over ${stdio}`);
  return {
    cyclesPerPosition: (d.totalMicros * CLK_HZ) / 1e6 / d.positions,
    irqCyclesPerPosition: (irqCycles() - before) / d.positions,
    idle: await idleCpu(emu),
  };
}

/**
 * The firmware waiting for its host (it sleeps in WFI, waking at each SysTick wrap): the share of a
 * host core the emulator uses over IDLE_SECONDS, as `flash --emulate` runs it (the sleep's time
 * passes in real time) and the baseline of jumping to each wrap at once.
 */
const IDLE_SECONDS = 3;
async function idleCpu(emu: Rp2040Emulator) {
  const share = async (idleInRealTime: boolean) => {
    const cpu = process.cpuUsage();
    const result = await emu.run({ maxSeconds: IDLE_SECONDS, idleInRealTime });
    const used = process.cpuUsage(cpu);
    return { core: (used.user + used.system) / 1e6 / result.seconds, cycles: result.runCycles };
  };
  return { jumping: await share(false), realTime: await share(true) };
}

export async function benchRp2040Usb(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-usb-'));
  try {
    const t = await throughput(join(dir, '.'));
    process.stdout.write(`\nUSB serial (CDC) on the RP2040, in rp2040js\n`);
    process.stdout.write(
      `  bulk IN, 64 KiB: ${(t.emulatedBytesPerSecond / 1e6).toFixed(2)} MB/s of emulated time (${(t.cycles / 1e6).toFixed(2)} M cycles; ` +
        `${Math.round(t.irqCycles / (t.bytes / 64))} interrupt cycles per 64-byte packet), ${(t.wallBytesPerSecond / 1e6).toFixed(2)} MB/s of wall-clock time\n`,
    );
    const usb = await generation(dir, 'usb');
    const uart = await generation(dir, 'uart');
    process.stdout.write(
      `  stories260K Q8_0, ${STEPS} positions: ${Math.round(usb.cyclesPerPosition).toLocaleString('en-US')} cycles per position over USB, ` +
        `${Math.round(uart.cyclesPerPosition).toLocaleString('en-US')} over UART0: the USB stack costs ${Math.round(usb.cyclesPerPosition - uart.cyclesPerPosition).toLocaleString('en-US')} cycles per token ` +
        `(${Math.round(usb.irqCyclesPerPosition).toLocaleString('en-US')} of them in USBCTRL_IRQ), ${(((usb.cyclesPerPosition - uart.cyclesPerPosition) / uart.cyclesPerPosition) * 100).toFixed(3)} % of a token\n`,
    );
    for (const [name, r] of [
      ['USB', usb],
      ['UART0', uart],
    ] as const) {
      process.stdout.write(
        `  idle, waiting for the host over ${name} (WFI), ${IDLE_SECONDS} s: ${(r.idle.realTime.core * 100).toFixed(1)} % of a host core as flash --emulate runs it ` +
          `(the sleep in real time), ${(r.idle.jumping.core * 100).toFixed(1)} % jumping to each SysTick wrap: ${(r.idle.realTime.core / r.idle.jumping.core).toFixed(3)}×\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
