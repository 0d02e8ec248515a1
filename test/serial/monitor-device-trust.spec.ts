/**
 * The monitor does not trust the device (issue 20.7): names and messages from it are shown
 * escaped, a model name that is not a plain file name is never looked up, -n beyond the context
 * is cut to it, and a device that stays BUSY is reported as busy. The device is a FakeDevice in
 * memory, reached through a connector as a serial port would be.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Monitor, type DeviceConnector, type MonitorOptions } from '../../src/serial/monitor.js';
import type { MonitorSink } from '../../src/serial/monitor-output.js';
import { encodeFrame, messagePayload, type Hello } from '../../src/serial/protocol.js';
import { UserError } from '../../src/util/errors.js';
import { stories260K, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';
import { FAKE_HELLO, FakeDevice, type FakeDeviceOptions } from './fake-device.js';

function capture(): MonitorSink & { stdout: () => string; notes: string[] } {
  const out: string[] = [];
  const notes: string[] = [];
  return {
    out: (d) => out.push(typeof d === 'string' ? d : Buffer.from(d).toString('utf8')),
    note: (l) => notes.push(l),
    stdout: () => out.join(''),
    notes,
  };
}

function connector(device: FakeDevice): DeviceConnector {
  const connection = {
    path: '/dev/fake',
    isLost: false,
    lostReason: undefined,
    lost: new Promise<string>(() => {}),
    link: () => device.newLink(),
    close: async () => {},
  };
  return {
    open: async () => ({ connection, description: '/dev/fake' }),
    reopen: async () => {
      throw new UserError('the fake device does not come back');
    },
    via: 'in memory',
  };
}

/** A HELLO frame with `modelName` as raw bytes (control characters included, which no encoder writes). */
function helloNamed(modelName: string, hello: Hello = FAKE_HELLO): Uint8Array {
  const placeholder = 'x'.repeat(Buffer.from(modelName, 'latin1').length);
  const { type, payload } = messagePayload({ ...hello, modelName: placeholder });
  const bytes = Buffer.from(payload);
  Buffer.from(modelName, 'latin1').copy(bytes, bytes.length - placeholder.length);
  return encodeFrame(type, bytes);
}

describe('monitor: a device it does not trust (issue 20.7)', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(30_000);
  const tmp = tempDir('llama2-embed-monitor-trust-');
  const devices: FakeDevice[] = [];
  const monitors: Monitor[] = [];
  after(() => tmp.cleanup());
  afterEach(async () => {
    for (const m of monitors.splice(0)) await m.close();
    for (const d of devices.splice(0)) d.stop();
  });

  async function connect(device: FakeDeviceOptions, options: Partial<MonitorOptions> & { sink: MonitorSink }): Promise<Monitor> {
    const d = new FakeDevice({ stepMs: 1, ...device });
    devices.push(d);
    const monitor = await Monitor.connect({
      connector: connector(d),
      baudRate: 115200,
      json: false,
      timestamp: false,
      steps: 8,
      temperature: 0,
      topp: 0.9,
      buildDir: join(tmp.dir, 'no-build'),
      helloTimeoutMs: 2000,
      responseTimeoutMs: 500,
      ...options,
    });
    monitors.push(monitor);
    return monitor;
  }

  async function rejection(p: Promise<unknown>): Promise<Error> {
    try {
      await p;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a rejection');
  }

  it("shows escape sequences in the HELLO's model name as escaped text, never raw", async () => {
    const sink = capture();
    const monitor = await connect({ rawHello: helloNamed('\x1b]0;owned\x07\x1b[2J.bin') }, { sink, tokenizer: stories260K.tokenizer });
    await monitor.generate('Once upon a time');
    const all = [...sink.notes, sink.stdout()].join('\n');
    // eslint-disable-next-line no-control-regex -- the control characters are what the test looks for
    expect(all).to.not.match(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(sink.notes.join('\n')).to.include('fake running \\x1b]0;owned\\x07\\x1b[2J.bin (f32');
    expect(sink.notes.at(-1)).to.include('(fake, \\x1b]0;owned\\x07\\x1b[2J.bin f32)');
  });

  for (const name of ['../../../etc/passwd', '/etc/tok512.bin', 'sub\\tok512.bin', '.hidden.bin', 'evil\x00.bin', 'stories260K\x1b.bin']) {
    it(`without --build, does not look up the model name ${JSON.stringify(name)}: asks for --build or -z`, async () => {
      const err = await rejection(connect({ rawHello: helloNamed(name) }, { sink: capture() }));
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.match(
        /the device's model name ".*" is not a plain file name .* so it is not looked up in the model directories\. Pass --build with the directory the firmware was built in, or -z with its tokenizer\./,
      );
      // eslint-disable-next-line no-control-regex -- the control characters are what the test looks for
      expect(err.message).to.not.match(/[\x00-\x1f]/);
    });
  }

  it('a plain model name is looked up as before (its usual tokenizer), and -z overrides it', async () => {
    const sink = capture();
    const monitor = await connect({ hello: { ...FAKE_HELLO, modelName: 'stories260K.bin' } }, { sink });
    expect(monitor.build.tokenizerPath).to.equal(stories260K.tokenizer);
    expect(sink.notes.join('\n')).to.match(/decoding its tokens with stories260K\.bin's usual tokenizer/);
  });

  it('-n more than the context is cut to it, with a note, not refused after connecting', async () => {
    const sink = capture();
    const monitor = await connect({ hello: { ...FAKE_HELLO, seqLen: 24, modelName: 'stories260K.bin' } }, { sink, steps: 70000 });
    const stats = await monitor.generate('Once upon a time');
    expect(stats.tokens).to.equal(24);
    expect(sink.notes).to.include("-n 70000 is more than the device's context (seq_len 24): running 24 positions.");
  });

  it('a device that stays BUSY with another request: says so and what to do', async () => {
    const sink = capture();
    const monitor = await connect(
      { hello: { ...FAKE_HELLO, modelName: 'stories260K.bin' }, ignoresCancel: true },
      { sink, responseTimeoutMs: 100 },
    );
    devices[0].start(31337, 1_000_000);
    const err = await rejection(monitor.generate('Once upon a time'));
    expect(err.message).to.match(/^the device is busy with another request \(id 31337, not this monitor's\)/);
    expect(err.message).to.match(/close it .*reset the board/);
  });
});
