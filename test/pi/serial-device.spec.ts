/**
 * `llama2 --protocol --serial-device PATH`, what the --serial service runs on a Pi Zero's USB
 * gadget port (/dev/ttyGS0): here the device is one end of a pseudo-terminal pair made by socat,
 * and `monitor --port` on the other end is the computer the Pi is plugged into. Its tokens must
 * be the reference engine's, as over any serial port.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { RAW_PTY, SocatBridge } from '../../src/serial/pty.js';
import { build } from '../../src/toolchain/build.js';
import { cli } from '../helpers/cli.js';
import { runEngine } from '../helpers/engine-run.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

describe('the program on a serial device (--serial-device), as the --serial service runs it', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make', 'socat');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-serial-device-');
  const stories = stories260K; // looked up when read, after needs()
  const buildDir = join(tmp.dir, 'build');
  let bridge: SocatBridge | undefined;
  let program: ChildProcess | undefined;

  before(async function () {
    await build({ target: 'host', ...stories, quant: 'f32', out: buildDir }, () => {});
  });
  after(async () => {
    if (program && program.exitCode === null && program.signalCode === null) program.kill();
    await bridge?.stop();
    tmp.cleanup();
  });

  it("serves the protocol on the device; monitor --port on the other end gets the engine's tokens", async () => {
    bridge = await SocatBridge.start([RAW_PTY, RAW_PTY]);
    const [device, computer] = bridge.ptys;
    let stderr = '';
    program = spawn(join(buildDir, 'llama2'), ['--protocol', '--serial-device', device], { stdio: ['ignore', 'ignore', 'pipe'] });
    program.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const loaded = loadForGeneration(stories);
    const r = cli([
      'monitor',
      '--port',
      computer,
      '--build',
      buildDir,
      '-i',
      'One day',
      '-n',
      '80',
      '-t',
      '1',
      '-p',
      '0.9',
      '-s',
      '42',
      '--json',
    ]);
    expect(r.status, `${r.stderr}\nprogram: ${stderr}`).to.equal(0);
    const tokens = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{"v":1,"type":"token"'))
      .map((l) => JSON.parse(l) as { token: number; generated: boolean })
      .map((m) => `${m.generated ? 'G' : 'P'} ${m.token}`);
    expect(tokens).to.deep.equal(
      runEngine(loaded.model, loaded.tokenizer.encode('One day', true, false), 80, { temperature: 1, topp: 0.9, seed: 42 }).idLines,
    );
    expect(r.stderr).to.contain(`connected to ${computer} at 115200 baud: host running stories260K.bin`);
    expect(program.exitCode, 'still serving').to.equal(null);
  });

  it('says so when the device cannot be opened, and refuses --serial-device without --protocol', () => {
    const missing = spawnSync(join(buildDir, 'llama2'), ['--protocol', '--serial-device', '/dev/ttyGS9-absent'], { encoding: 'utf8' });
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.equal('llama2: cannot open /dev/ttyGS9-absent: No such file or directory\n');
    const alone = spawnSync(join(buildDir, 'llama2'), ['--serial-device', '/dev/null'], { encoding: 'utf8' });
    expect(alone.status).to.equal(1);
    expect(alone.stderr).to.contain('--serial-device goes with --protocol');
  });
});
