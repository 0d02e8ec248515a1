/**
 * The monitor's parts without the command line: finding the board among the serial ports (the
 * listing injected), refusing the 1200-baud BOOTSEL signal, and a whole conversation with the
 * host program in --protocol mode behind a real pseudo-terminal (socat), opened through
 * @serialport/bindings-cpp as a board's port would be: the golden text, the model-hash check,
 * and a port that goes away and comes back.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { build, type BuildResult } from '../../src/toolchain/build.js';
import { candidatePorts, detectPort, type Candidate, type SerialPortInfo } from '../../src/serial/ports.js';
import { checkBaudRate } from '../../src/serial/port-choice.js';
import { LineStamper, type MonitorSink } from '../../src/serial/monitor-output.js';
import { Monitor, type MonitorOptions } from '../../src/serial/monitor.js';
import { RAW_PTY, SocatBridge } from '../../src/serial/pty.js';
import { SerialConnection } from '../../src/serial/transport.js';
import { UserError } from '../../src/util/errors.js';
import { readGoldenFile, readGoldenIds, tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';
import { cli } from '../helpers/cli.js';

const quiet = () => {};

/** What a monitor printed: stdout as text, and the notes (stderr). */
function capture(): MonitorSink & { stdout: () => string; notes: string[] } {
  const out: Buffer[] = [];
  const notes: string[] = [];
  return {
    out: (data) => out.push(Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)),
    note: (line) => notes.push(line),
    stdout: () => Buffer.concat(out).toString('utf8'),
    notes,
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const pico: SerialPortInfo = { path: '/dev/ttyACM0', vendorId: '2E8A', productId: '000a', serialNumber: 'E660583883' };
const probe: SerialPortInfo = { path: '/dev/ttyACM1', vendorId: '2e8a', productId: '000c', manufacturer: 'Raspberry Pi' };
const cp2102: SerialPortInfo = { path: '/dev/ttyUSB0', vendorId: '10c4', productId: 'ea60' };
const builtin: SerialPortInfo = { path: '/dev/ttyS0' };
const mouse: SerialPortInfo = { path: '/dev/ttyACM7', vendorId: '046d', productId: 'c52b' };

describe('monitor: finding the board', () => {
  it('takes the one Pico or USB-UART bridge among the ports', async () => {
    const found = await detectPort(async () => [builtin, cp2102, mouse]);
    expect(found.port.path).to.equal('/dev/ttyUSB0');
    expect(found.device.name).to.match(/CP210x/);
  });

  it('puts Raspberry Pi devices first, and asks which one when several match', async () => {
    expect(candidatePorts([cp2102, probe, builtin, pico]).map((c) => c.port.path)).to.deep.equal([
      '/dev/ttyACM0',
      '/dev/ttyACM1',
      '/dev/ttyUSB0',
    ]);
    let offered: Candidate[] = [];
    const chosen = await detectPort(
      async () => [cp2102, pico, probe],
      async (candidates) => {
        offered = candidates;
        return candidates[1];
      },
    );
    expect(offered.map((c) => c.port.path)).to.deep.equal(['/dev/ttyACM0', '/dev/ttyACM1', '/dev/ttyUSB0']);
    expect(chosen.port.path).to.equal('/dev/ttyACM1');
    expect(chosen.device.name).to.match(/Debug Probe/);
  });

  it('without a way to ask, several candidates are an error that lists them and says --port', async () => {
    const err = await rejection(detectPort(async () => [pico, cp2102]));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.match(/several serial ports could be the board/);
    expect(err.message).to.include('/dev/ttyACM0 (Raspberry Pi device');
    expect(err.message).to.include('2e8a:000a, serial E660583883');
    expect(err.message).to.include('/dev/ttyUSB0 (CP210x USB-UART bridge, 10c4:ea60)');
    expect(err.message).to.match(/--port PATH/);
  });

  it('no candidate: says what the system lists and what to check (cable, dialout group, --port)', async () => {
    const none = await rejection(detectPort(async () => []));
    expect(none).to.be.instanceOf(UserError);
    expect(none.message).to.match(/no board found on a serial port\. The system lists no serial port at all/);
    expect(none.message).to.match(/cable that carries data/);
    expect(none.message).to.match(/dialout group \(sudo usermod -aG dialout \$USER/);
    expect(none.message).to.match(/--port \/dev\/ttyACM0/);
    const others = await rejection(detectPort(async () => [builtin, mouse]));
    expect(others.message).to.include(
      'The system lists /dev/ttyS0, /dev/ttyACM7 (046d:c52b), none of them a Pico or a known USB-UART bridge',
    );
  });

  it('a listing that fails says how to list ports (udev) or to name one', async () => {
    const err = await rejection(detectPort(async () => Promise.reject(new Error('spawn udevadm ENOENT'))));
    expect(err.message).to.match(/cannot list the serial ports: spawn udevadm ENOENT\. .*apt-get install udev.*--port/);
  });

  it('never opens a port at 1200 baud, the reboot-to-BOOTSEL signal', () => {
    let err: unknown;
    try {
      checkBaudRate(1200);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UserError);
    expect((err as UserError).exitCode).to.equal(2);
    expect((err as UserError).message).to.match(/--baud 1200 is refused: .*reboots it into its BOOTSEL drive/);
    expect(() => checkBaudRate(115200)).to.not.throw();
    expect(() => checkBaudRate(0)).to.throw(/--baud must be/);
  });

  it('--timestamp puts the time at the start of each line, in text and in bytes', () => {
    const stamper = new LineStamper(() => new Date(2026, 0, 2, 3, 4, 5, 67));
    expect(stamper.text('Once upon')).to.equal('[03:04:05.067] Once upon');
    expect(stamper.text(' a time.\nThe')).to.equal(' a time.\n[03:04:05.067] The');
    expect(stamper.text('\n')).to.equal('\n');
    expect(Buffer.from(stamper.bytes(Buffer.from('ab\n\ncd'))).toString()).to.equal(
      '[03:04:05.067] ab\n[03:04:05.067] \n[03:04:05.067] cd',
    );
  });
});

describe('monitor: the host program behind a pseudo-terminal', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make', 'socat');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-monitor-');
  const stories = stories260K; // looked up when read, after needs()
  const builds: Record<string, BuildResult> = {};
  const bridges: SocatBridge[] = [];
  const monitors: Monitor[] = [];

  /** The host program in --protocol mode on a new pty (at `link`, a stable path, when given). */
  async function device(name: string, link?: string): Promise<string> {
    const pty = link ? `${RAW_PTY},link=${link}` : RAW_PTY;
    const bridge = await SocatBridge.start([pty, `EXEC:${builds[name].info.executable} --protocol`]);
    bridges.push(bridge);
    return link ?? bridge.ptys[0];
  }

  async function connect(port: string, options: Partial<MonitorOptions> & { sink: MonitorSink }): Promise<Monitor> {
    const monitor = await Monitor.connect({
      port,
      baudRate: 115200,
      json: false,
      timestamp: false,
      steps: 40,
      temperature: 0,
      topp: 0.9,
      buildDir: builds.f32.outDir,
      ...options,
    });
    monitors.push(monitor);
    return monitor;
  }

  before(async () => {
    builds.f32 = await build({ target: 'host', ...stories, quant: 'f32', out: join(tmp.dir, 'f32') }, quiet);
    builds.q8 = await build({ target: 'host', ...stories, quant: 'q8_0', out: join(tmp.dir, 'q8') }, quiet);
  });
  after(async () => {
    for (const m of monitors) await m.close();
    for (const b of bridges) await b.stop();
    tmp.cleanup();
  });

  it('prints llama2.c\'s golden text for greedy "Once upon a time", then the device\'s speed', async () => {
    const sink = capture();
    const monitor = await connect(await device('f32'), { sink });
    expect(monitor.build.hashMatches).to.equal(true);
    expect(sink.notes.join('\n')).to.match(
      /connected to \/dev\/pts\/\d+ at 115200 baud: host running stories260K\.bin \(f32, seq_len 512, prompts up to 244 tokens; model [0-9a-f]{16}, the build in /,
    );
    const stats = await monitor.generate('Once upon a time');
    const golden = readGoldenIds('stories260K_f32_greedy_once_upon_a_time.ids');
    const ids = [...golden.prompt, ...golden.generated].slice(0, 41);
    const tokenizer = Tokenizer.read(stories.tokenizer, 512);
    expect(sink.stdout()).to.equal(`${tokenizer.decodeText(ids)}\n`);
    expect(readGoldenFile('stories260K_f32_greedy_once_upon_a_time.txt').startsWith(sink.stdout().trimEnd())).to.equal(true);
    expect(stats.tokenIds).to.deep.equal(ids);
    expect(stats.tokens).to.equal(40);
    expect(stats.tokensPerSecond).to.be.greaterThan(0);
    expect(sink.notes.at(-1)).to.match(
      /^40 tokens in \d+\.\d\d s on the device: \d+\.\d\d tok\/s, [\d,]+ µs per token \(host, stories260K\.bin f32\)$/,
    );
  });

  it('--json: one object per token (prompt tokens included) and a summary object', async () => {
    const sink = capture();
    const monitor = await connect(await device('f32'), { sink, json: true, steps: 8 });
    await monitor.generate('Once upon a time');
    const lines = sink
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.type)).to.deep.equal([...Array(9).fill('token'), 'summary']);
    expect(lines.slice(0, 9).map((l) => `${l.generated ? 'G' : 'P'} ${l.token}`)).to.deep.equal([
      'P 1',
      'P 403',
      'P 407',
      'P 261',
      'P 378',
      'G 432',
      'G 383',
      'G 286',
      'G 261',
    ]);
    const summary = lines[9];
    expect(summary).to.include({ reason: 'steps', tokens: 8, generated: 4, text: 'Once upon a time, there was a' });
    expect(summary.device).to.include({ target: 'host', model: 'stories260K.bin', weights: 'f32' });

    // one vocabulary (doc/events.md): generate --format jsonl on this machine writes the same events
    expect(lines.every((l) => l.v === 1)).to.equal(true);
    const engine = cli(['generate', '-i', 'Once upon a time', '-n', '8', '-t', '0', '--format', 'jsonl']);
    expect(engine.status, engine.stderr).to.equal(0);
    const engineLines = engine.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const common = ({ us: _us, ...rest }: Record<string, unknown>) => rest;
    expect(engineLines.slice(0, 9)).to.deep.equal(lines.slice(0, 9).map(common));
    const shared = ['v', 'type', 'reason', 'tokens', 'generated', 'text'];
    const pick = (l: Record<string, unknown>) => Object.fromEntries(shared.map((k) => [k, l[k]]));
    expect(pick(engineLines[9])).to.deep.equal(pick(summary));
    expect(Object.keys(engineLines[9]).slice(0, 7)).to.deep.equal(Object.keys(summary).slice(0, 7));
  });

  it('warns when the device runs other weights than the build it is checked against', async () => {
    const sink = capture();
    const monitor = await connect(await device('f32'), { sink, steps: 6, buildDir: builds.q8.outDir });
    expect(monitor.build.hashMatches).to.equal(false);
    const warning = sink.notes.find((n) => n.startsWith('warning:')) ?? '';
    expect(warning).to.match(
      /the device runs other weights than .*q8\/weights\.bin: its model hash is [0-9a-f]{16}, this build's is [0-9a-f]{16}/,
    );
    expect(warning).to.match(/device: stories260K\.bin, f32, seq_len 512; build: stories260K\.bin, q8_0/);
    expect(warning).to.match(/llama2-embed flash.*--build/);
    await monitor.generate('Once upon a time'); // still talks to it, with that build's tokenizer
    expect(sink.stdout()).to.equal('Once upon a time, there\n');
  });

  it('a port that goes away: the connection says so, and the monitor waits for it to come back', async () => {
    const link = join(tmp.dir, 'ttyPICO');
    await device('f32', link);
    const sink = capture();
    const monitor = await connect(link, { sink, steps: 6, reconnectSeconds: 20 });
    await bridges.pop()!.stop(); // the board is unplugged: its pty disappears
    expect(await Promise.race([monitor.portLost, new Promise((r) => setTimeout(() => r('still there'), 3000))])).to.match(
      /^(the device node disappeared|(reading from|writing to) it failed: .+)$/,
    ); // whichever notices first
    setTimeout(() => void device('f32', link), 1000); // and plugged in again a second later
    await monitor.generate('Once upon a time');
    expect(sink.notes.join('\n')).to.match(/ttyPICO went away \(.*\); waiting up to 20 s for it to come back/);
    expect(sink.notes.join('\n')).to.match(/reconnected to .*ttyPICO/);
    expect(sink.stdout()).to.equal('Once upon a time, there\n');
  });

  it('a port that does not come back: a clear error after the bounded wait', async () => {
    const link = join(tmp.dir, 'ttyGONE');
    await device('f32', link);
    const sink = capture();
    const monitor = await connect(link, { sink, steps: 6, reconnectSeconds: 1 });
    await bridges.pop()!.stop();
    await monitor.portLost;
    expect(existsSync(link)).to.equal(false);
    const err = await rejection(monitor.generate('Once upon a time'));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.match(/ttyGONE did not come back within 1 s\. Check the cable and the board's power/);
  });

  it('opening a missing port, or one in use, says what to do', async () => {
    const missing = await rejection(SerialConnection.open(join(tmp.dir, 'no-such-tty'), { baudRate: 115200 }));
    expect(missing).to.be.instanceOf(UserError);
    expect(missing.message).to.match(/no-such-tty: no such serial port\. Is the board plugged in, with a data cable\?/);
    const path = await device('f32');
    const first = await SerialConnection.open(path, { baudRate: 115200 });
    try {
      const busy = await rejection(SerialConnection.open(path, { baudRate: 115200 }));
      // the holders as /proc shows them: this process, and socat (which keeps the pty's slave side open too)
      expect(busy.message).to.match(
        new RegExp(`^${path} is in use by another program \\(.*pid ${process.pid} \\([^)]+\\), this process.*\\): close it`),
      );
      expect(busy.message).to.match(/pid \d+ \(socat\)/);
    } finally {
      await first.close();
    }
  });
});
