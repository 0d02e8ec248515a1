/**
 * `flash --emulate`: the RP2040 firmware (stories260K, Q8_0) in rp2040js, its UART0 on a real
 * pseudo-terminal, driven by `monitor --port <pty>` through @serialport/bindings-cpp as a board
 * on a USB-UART bridge would be. The device's tokens must be the reference engine's; a board
 * reset in the middle of a generation must not show in the text; `--raw` shows what the firmware
 * prints by itself.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { EmulatedBoard, firmwareToEmulate } from '../../src/emulator/emulate.js';
import type { MonitorSink } from '../../src/serial/monitor-output.js';
import { decodeFrame, encodeMessage, FrameDecoder } from '../../src/serial/protocol.js';
import { Monitor } from '../../src/serial/monitor.js';
import { build } from '../../src/toolchain/build.js';
import { UserError } from '../../src/util/errors.js';
import { startCli } from '../helpers/cli-process.js';
import { defaultPicoStory } from '../helpers/engine-run.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { deviceMessages } from '../helpers/device-messages.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};
const stories = stories260K; // looked up when read, after needs()
const PROMPT = 'Once upon a time';

/** The reference engine's tokens for the firmware's model (Q8_0 at the group size the build chooses), greedy. */
function reference(steps: number) {
  return defaultPicoStory(PROMPT, steps);
}

type JsonLine = {
  type: string;
  token: number;
  generated: boolean;
  position: number;
  tokensPerSecond?: number;
  microsPerToken?: number;
  text?: string;
};

function jsonLines(stdout: string): JsonLine[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as JsonLine);
}

describe('flash --emulate: the firmware in rp2040js behind a pseudo-terminal', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make', 'socat');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-emulate-');
  const serving = join(tmp.dir, 'serving'); // no baked generation: it only answers the monitor
  const storyteller = join(tmp.dir, 'storyteller'); // tells a story at reset, as text, then answers the monitor
  const boards: EmulatedBoard[] = [];

  before(async () => {
    // UART0 on the pty (test/emulator/emulate-usb.spec.ts does the same over USB)
    await build({ target: 'rp2040', ...stories, quant: 'q8_0', steps: 0, stdio: 'uart', out: serving }, quiet);
    await build(
      {
        target: 'rp2040',
        ...stories,
        quant: 'q8_0',
        prompt: PROMPT,
        steps: 10,
        temperature: 0,
        embedTokenizer: true,
        stdio: 'uart',
        out: storyteller,
      },
      quiet,
    );
  });
  after(async () => {
    for (const board of boards) await board.stop();
    tmp.cleanup();
  });

  async function board(firmware: string): Promise<EmulatedBoard> {
    const b = await EmulatedBoard.start({ firmware });
    boards.push(b);
    return b;
  }

  it("build → flash --emulate → monitor --port <pty> -i … -n 64 -t 0 --json: the reference engine's tokens", async () => {
    const flash = startCli(['flash', '--emulate', serving], { cwd: tmp.dir });
    const [, pty] = await flash.waitFor(/UART0: (\/\S+)/, 30_000);
    expect(flash.stdout()).to.include(`llama2-embed monitor --port ${pty}`);
    const monitor = startCli(['monitor', '--port', pty, '-i', PROMPT, '-n', '64', '-t', '0', '--json', '--build', serving], {
      cwd: tmp.dir,
    });
    expect(await monitor.exit(480_000)).to.equal(0, monitor.stderr());
    const lines = jsonLines(monitor.stdout());
    const tokens = lines.filter((l) => l.type === 'token');
    const expected = reference(64);
    expect(tokens.map((t) => `${t.generated ? 'G' : 'P'} ${t.token}`)).to.deep.equal(expected.idLines);
    const summary = lines.at(-1)!;
    expect(summary.type).to.equal('summary');
    expect(summary.text).to.equal(expected.text);
    expect(summary.tokensPerSecond).to.be.greaterThan(0);
    expect(monitor.stderr()).to.match(
      /connected to .* rp2040 running stories260K\.bin \(q8_0, group size \d+, seq_len \d+, prompts up to 116 tokens; model [0-9a-f]{16}, the build in /,
    );
    console.log(
      `      the emulated Pico, through the monitor: ${summary.tokensPerSecond!.toFixed(2)} tok/s, ${Math.round(summary.microsPerToken!)} µs per token`,
    );

    flash.child.kill('SIGINT');
    expect(await flash.exit(10_000)).to.equal(0);
    expect(flash.stderr()).to.match(/emulator stopped after \d+ million cycles \(\d+ emulated MHz\)/);
    expect(existsSync(pty)).to.equal(false); // socat is gone, and its ptys with it
  });

  it('flash --emulate --monitor: the same in one process, as text', async () => {
    const run = startCli(['flash', '--emulate', serving, '--monitor', '-i', PROMPT, '-n', '6', '-t', '0', '--build', serving], {
      cwd: tmp.dir,
    });
    expect(await run.exit(180_000)).to.equal(0, run.stderr());
    expect(run.stdout()).to.equal(`${reference(6).text}\n`);
    expect(run.stderr()).to.match(
      /RP2040 emulator \(rp2040js\) running .*firmware\.uf2; UART0 at \/dev\/pts\/\d+( \(booted through the boot ROM\))?\n/,
    );
    expect(run.stderr()).to.match(/6 tokens in \d+\.\d\d s on the device: \d+\.\d\d tok\/s/);
  });

  it('a board reset in the middle of a generation: the monitor resumes it and the tokens are the same', async () => {
    const b = await board(serving);
    const out: string[] = [];
    const notes: string[] = [];
    let resets = 0;
    const sink: MonitorSink = {
      out: (data) => {
        out.push(String(data));
        if (resets === 0 && out.length === 7) {
          resets++;
          void b.reset(); // pressing RUN after 6 positions
        }
      },
      note: (line) => notes.push(line),
    };
    const monitor = await Monitor.connect({
      port: b.devicePath,
      baudRate: 115200,
      json: true,
      timestamp: false,
      steps: 12,
      temperature: 0,
      topp: 0.9,
      buildDir: serving,
      sink,
      restartGraceMs: 1000,
    });
    try {
      const stats = await monitor.generate(PROMPT);
      expect(resets).to.equal(1);
      expect(notes.join('\n')).to.match(/\(the device restarted after \d+ tokens; resuming\)/);
      expect(stats.tokenIds).to.deep.equal(reference(12).ids);
      expect(
        jsonLines(out.join(''))
          .filter((l) => l.type === 'token')
          .map((l) => l.position),
      ).to.deep.equal([...Array(13).keys()]);
    } finally {
      await monitor.close();
    }
  });

  it('Ctrl+C during a generation cancels it on the device, which then serves the next one', async () => {
    const b = await board(serving);
    const first = startCli(['monitor', '--port', b.devicePath, '-i', PROMPT, '-n', '100', '-t', '0', '--json', '--build', serving], {
      cwd: tmp.dir,
    });
    await first.waitFor(/(\{"v":1,"type":"token"[^\n]*\n){8}/, 60_000);
    first.child.kill('SIGINT');
    expect(await first.exit(30_000)).to.equal(0, first.stderr());
    const lines = jsonLines(first.stdout());
    const summary = lines.at(-1)! as JsonLine & { reason: string; tokens: number };
    expect(summary.type).to.equal('summary');
    expect(summary.reason).to.equal('cancelled');
    expect(summary.tokens).to.be.within(7, 40);
    const tokens = lines.filter((l) => l.type === 'token').map((t) => `${t.generated ? 'G' : 'P'} ${t.token}`);
    expect(tokens).to.deep.equal(reference(100).idLines.slice(0, tokens.length));

    const second = startCli(['monitor', '--port', b.devicePath, '-i', PROMPT, '-n', '6', '-t', '0', '--build', serving], { cwd: tmp.dir });
    expect(await second.exit(60_000)).to.equal(0, second.stderr());
    expect(second.stdout()).to.equal(`${reference(6).text}\n`);
  });

  it('monitor --raw shows the bytes the firmware prints by itself (its story at reset), until Ctrl+C', async () => {
    const b = await board(storyteller);
    const raw = startCli(['monitor', '--port', b.devicePath, '--raw'], { cwd: tmp.dir });
    await raw.waitFor(/connected to .* \(raw: bytes as they come\)/, 20_000, 'stderr');
    // the board may have begun its story before the reset (the monitor shows that, as a terminal on
    // a real UART would): the whole story must come after the reset
    const before = raw.stdout().length;
    await b.reset();
    const after = () => raw.stdout().slice(before);
    for (const deadline = Date.now() + 120_000; !/achieved tok\/s: \d+\.\d\d \(10 tokens/.test(after()) && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(after()).to.include(reference(10).text);
    expect(after()).to.match(/achieved tok\/s: \d+\.\d\d \(10 tokens/);
    raw.child.kill('SIGINT');
    expect(await raw.exit(10_000)).to.equal(0);
  });

  it('the firmware gives way to a host: a frame during its story at reset ends the story, and is answered', async () => {
    const emu = await Rp2040Emulator.load(join(storyteller, 'firmware.uf2'));
    await emu.run({ until: (out) => out.includes(' upon'), maxSeconds: 60 }); // its story has begun
    emu.writeUart(Uint8Array.of(0, ...encodeMessage({ type: 'hello-request', hostVersion: 1 })));
    const frames = () => {
      const bytes = emu.outputBuffer;
      return new FrameDecoder().push(bytes.subarray(bytes.indexOf(0)));
    };
    const run = await emu.run({ until: () => frames().length > 0, maxSeconds: 60 });
    expect(run.reason).to.equal('until');
    const bytes = emu.outputBuffer;
    const story = bytes.subarray(0, bytes.indexOf(0)).toString('utf8');
    const told = Number(/achieved tok\/s: \d+\.\d\d \((\d+) tokens/.exec(story)?.[1]);
    expect(told).to.be.lessThan(10); // cut short
    expect(reference(10).text.startsWith(story.slice(0, story.indexOf('\nachieved')))).to.equal(true);
    await emu.run({ maxCycles: 5_000_000 }); // anything more it would say
    const said = frames().map((f) => (f.kind === 'frame' ? decodeFrame(f) : f));
    expect(said).to.have.length(1); // the HELLO asked for, without an unasked one before it
    expect(said[0]).to.have.nested.property('message.type', 'hello');
  });

  it('waiting for its host on UART0, the firmware sleeps (WFI) and a byte wakes it: the receive interrupt', async () => {
    const emu = await Rp2040Emulator.load(join(serving, 'firmware.uf2'));
    const hellos = () => deviceMessages(emu).filter((m) => m.type === 'hello').length;
    expect((await emu.run({ until: () => hellos() === 1, maxSeconds: 60 })).reason).to.equal('until'); // its unasked HELLO
    // asleep at every look (a polling loop never is), through several SysTick wraps (126 ms each)
    const looks: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      await emu.run({ maxCycles: 2_000_000 });
      looks.push(emu.mcu.core.waiting);
    }
    expect(looks.every(Boolean)).to.equal(true);
    emu.writeUart(Uint8Array.of(0, ...encodeMessage({ type: 'hello-request', hostVersion: 1 })));
    expect((await emu.run({ until: () => hellos() === 2, maxSeconds: 60 })).reason).to.equal('until');
  });

  it("says what is wrong: no build yet, another target's build, a target without an emulator", async () => {
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty);
    const noBuild = startCli(['flash', '--emulate'], { cwd: empty });
    expect(await noBuild.exit(30_000)).to.equal(1);
    expect(noBuild.stderr()).to.match(
      /^llama2-embed: no firmware to emulate: .*build\/rp2040\/firmware\.uf2 does not exist\. Build one first: llama2-embed build --target rp2040/,
    );
    expect(noBuild.stderr()).to.not.match(/^\s+at /m);

    const hostBuild = join(tmp.dir, 'host-build');
    mkdirSync(hostBuild);
    writeFileSync(join(hostBuild, 'build-info.json'), JSON.stringify({ target: 'host' }));
    writeFileSync(join(hostBuild, 'firmware.uf2'), '');
    expect(() => firmwareToEmulate(hostBuild)).to.throw(UserError, /was built for target "host", not rp2040/);
    expect(() => firmwareToEmulate(serving, 'host')).to.throw(UserError, /target "host" has no emulator/);
    expect(firmwareToEmulate(serving)).to.equal(join(serving, 'firmware.uf2'));
  });
});
