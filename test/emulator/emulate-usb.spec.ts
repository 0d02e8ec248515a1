/**
 * `flash --emulate` with a firmware that talks over its USB port (`build --stdio usb`, the
 * default for rp2040): src/emulator/usb-cdc.ts enumerates the emulated Pico and bridges its CDC
 * serial port to a pseudo-terminal, and `monitor --port <pty>` generates through it. The tokens
 * must be the reference engine's. And what the firmware writes before a program opens the port
 * (its story at reset) waits for it, followed by the HELLO.
 */
import { expect } from 'chai';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { readFirmwareTag } from '../../src/firmware-image/firmware-tag.js';
import { runUntil, UsbCdcHost } from '../../src/emulator/usb-cdc.js';
import { decodeFrame, FrameDecoder } from '../../src/serial/protocol.js';
import { build } from '../../src/toolchain/build.js';
import { startCli } from '../helpers/cli-process.js';
import { defaultPicoStory } from '../helpers/engine-run.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};
const stories = stories260K; // looked up when read, after needs()
const PROMPT = 'Once upon a time';

function reference(steps: number) {
  return defaultPicoStory(PROMPT, steps);
}

describe("flash --emulate over USB: the firmware's CDC serial port behind a pseudo-terminal", function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make', 'socat');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-emulate-usb-');
  const serving = join(tmp.dir, 'serving');
  const storyteller = join(tmp.dir, 'storyteller');

  before(async () => {
    // no --stdio: USB is the default for rp2040
    await build({ target: 'rp2040', ...stories, quant: 'q8_0', steps: 0, out: serving }, quiet);
    await build(
      { target: 'rp2040', ...stories, quant: 'q8_0', prompt: PROMPT, steps: 10, temperature: 0, embedTokenizer: true, out: storyteller },
      quiet,
    );
  });
  after(() => tmp.cleanup());

  it("build (usb by default) → flash --emulate → monitor --port <pty> -i … -n 64 -t 0 --json: the reference engine's tokens", async () => {
    expect(JSON.parse(readFileSync(join(serving, 'build-info.json'), 'utf8')).stdio).to.equal('usb');
    expect(readFileSync(join(serving, 'generation.h'), 'utf8')).to.match(/#define STDIO_USB 1\n#define STDIO_UART 0\n/);
    const flash = startCli(['flash', '--emulate', serving], { cwd: tmp.dir });
    const [, pty] = await flash.waitFor(/USB serial \(CDC\): (\/\S+)/, 30_000);
    const monitor = startCli(['monitor', '--port', pty, '-i', PROMPT, '-n', '64', '-t', '0', '--json', '--build', serving], {
      cwd: tmp.dir,
    });
    expect(await monitor.exit(480_000)).to.equal(0, monitor.stderr());
    const lines = monitor
      .stdout()
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            token: number;
            generated: boolean;
            text?: string;
            tokensPerSecond?: number;
            microsPerToken?: number;
          },
      );
    const expected = reference(64);
    expect(lines.filter((l) => l.type === 'token').map((t) => `${t.generated ? 'G' : 'P'} ${t.token}`)).to.deep.equal(expected.idLines);
    const summary = lines.at(-1)!;
    expect(summary.type).to.equal('summary');
    expect(summary.text).to.equal(expected.text);
    expect(monitor.stderr()).to.match(/connected to .* rp2040 running stories260K\.bin/);
    console.log(
      `      the emulated Pico over USB, through the monitor: ${summary.tokensPerSecond!.toFixed(2)} tok/s, ${Math.round(summary.microsPerToken!)} µs per token`,
    );
    flash.child.kill('SIGINT');
    expect(await flash.exit(10_000)).to.equal(0);
  });

  it('a firmware.uf2 copied out of its build directory says itself that it speaks USB (its tag), and is run so', async () => {
    expect(readFirmwareTag(join(serving, 'firmware.uf2'))).to.deep.include({ target: 'rp2040', stdio: 'usb' });
    expect(readFirmwareTag(join(serving, 'firmware.elf'))).to.deep.include({ target: 'rp2040', stdio: 'usb' });
    const away = join(tmp.dir, 'copied');
    mkdirSync(away);
    copyFileSync(join(serving, 'firmware.uf2'), join(away, 'firmware.uf2')); // no build-info.json beside it
    const flash = startCli(['flash', '--emulate', join(away, 'firmware.uf2')], { cwd: tmp.dir });
    try {
      const [, pty] = await flash.waitFor(/USB serial \(CDC\): (\/\S+)/, 30_000);
      const monitor = startCli(['monitor', '--port', pty, '-i', PROMPT, '-n', '6', '-t', '0', '-z', stories.tokenizer], { cwd: tmp.dir });
      expect(await monitor.exit(120_000)).to.equal(0, monitor.stderr());
      expect(monitor.stdout()).to.equal(`${reference(6).text}\n`);
    } finally {
      flash.child.kill('SIGINT');
      await flash.exit(30_000);
    }
  });

  it('waiting for its host, the firmware sleeps (WFI) instead of polling: the emulator idles', async () => {
    const emu = await Rp2040Emulator.load(join(serving, 'firmware.uf2'));
    const host = UsbCdcHost.attach(emu);
    const received: number[] = [];
    host.onData((bytes) => received.push(...bytes));
    const hello = await runUntil(emu, () => new FrameDecoder().push(Buffer.from(received)).some((f) => f.kind === 'frame'), {
      maxSeconds: 60,
    });
    expect(hello.satisfied).to.equal(true);
    // asleep at every look (a polling loop never is), through several SysTick wraps (126 ms each)
    const looks: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      await emu.run({ maxCycles: 2_000_000 });
      looks.push(emu.mcu.core.waiting);
    }
    expect(looks.every(Boolean)).to.equal(true);
  });

  it('output before the port is opened waits for it: the story told at reset, then the HELLO', async () => {
    const emu = await Rp2040Emulator.load(join(storyteller, 'firmware.uf2'));
    const host = UsbCdcHost.attach(emu, { open: false }); // plugged in, but no program has the port open
    const received: number[] = [];
    host.onData((bytes) => received.push(...bytes));
    // the story (10 positions), then the firmware waits for DTR before its HELLO
    await runUntil(emu, () => Buffer.from(received).includes('achieved tok/s'), { maxSeconds: 120 });
    await emu.run({ maxCycles: 20_000_000 });
    expect(received.includes(0)).to.equal(false); // no HELLO yet: nobody has the port open
    let opened = false;
    void host.setControlLineState({ dtr: true, rts: true }).then(() => (opened = true));
    const frames = () => new FrameDecoder().push(Buffer.from(received.slice(received.indexOf(0))));
    const run = await runUntil(emu, () => opened && received.includes(0) && frames().length > 0, { maxSeconds: 60 });
    expect(run.satisfied).to.equal(true);
    const bytes = Buffer.from(received);
    const story = bytes.subarray(0, bytes.indexOf(0)).toString('utf8');
    expect(story.startsWith(reference(10).text)).to.equal(true, story);
    expect(story).to.match(/\nachieved tok\/s: \d+\.\d\d \(10 tokens, \d+ cycles per token at 133 MHz\)\n$/);
    const said = frames().map((f) => (f.kind === 'frame' ? decodeFrame(f) : f));
    expect(said[0]).to.have.nested.property('message.type', 'hello');
  });
});
