/**
 * `llama2-embed monitor` as a user runs it, against the host program in --protocol mode behind a
 * socat pseudo-terminal (the same bytes a board sends over its UART): the golden text on stdout
 * and the speed on stderr, --json, --log, --timestamp, the model-hash warning, interactive mode
 * at a terminal (made by `script`), and the errors: baud 1200, a missing port, no board found.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import { RAW_PTY, SocatBridge } from '../../src/serial/pty.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { build, type BuildResult } from '../../src/toolchain/build.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { startCli } from '../helpers/cli-process.js';
import { readGoldenFile, readGoldenIds, tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};

describe('cli: monitor', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make', 'socat');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-cli-monitor-');
  const stories = stories260K; // looked up when read, after needs()
  const builds: Record<string, BuildResult> = {};
  const bridges: SocatBridge[] = [];

  /** The host program in --protocol mode, as a device on a new pty. */
  async function device(name: string): Promise<string> {
    const bridge = await SocatBridge.start([RAW_PTY, `EXEC:${builds[name].info.executable} --protocol`]);
    bridges.push(bridge);
    return bridge.ptys[0];
  }

  /** Runs monitor and waits for it (asynchronously: socat runs beside it). */
  async function monitor(args: string[]) {
    const run = startCli(['monitor', ...args], { cwd: tmp.dir });
    const status = await run.exit(120_000);
    return { status, stdout: run.stdout(), stderr: run.stderr() };
  }

  before(async () => {
    builds.f32 = await build({ target: 'host', ...stories, quant: 'f32', out: join(tmp.dir, 'build', 'host') }, quiet);
    builds.q8 = await build({ target: 'host', ...stories, quant: 'q8_0', out: join(tmp.dir, 'q8') }, quiet);
  });
  after(async () => {
    for (const b of bridges) await b.stop();
    tmp.cleanup();
  });

  it('-i "Once upon a time" -t 0: llama2.c\'s golden text on stdout, the device\'s speed on stderr', async () => {
    const port = await device('f32');
    const result = await monitor(['--port', port, '-i', 'Once upon a time', '-n', '40', '-t', '0']); // build/host found from the cwd
    expect(result.status, result.stderr).to.equal(0);
    const golden = readGoldenIds('stories260K_f32_greedy_once_upon_a_time.ids');
    const text = Tokenizer.read(stories.tokenizer, 512).decodeText([...golden.prompt, ...golden.generated].slice(0, 41));
    expect(result.stdout).to.equal(`${text}\n`);
    expect(readGoldenFile('stories260K_f32_greedy_once_upon_a_time.txt').startsWith(text)).to.equal(true);
    expect(result.stderr).to.match(
      /^connected to \/dev\/pts\/\d+ at 115200 baud: host running stories260K\.bin \(f32, seq_len 512, prompts up to 244 tokens; model [0-9a-f]{16}, the build in .*build\/host\)$/m,
    );
    expect(result.stderr).to.match(
      /^40 tokens in \d+\.\d\d s on the device: \d+\.\d\d tok\/s, [\d,]+ µs per token \(host, stories260K\.bin f32\)$/m,
    );
    expect(result.stderr).to.not.match(/warning/);
  });

  it('--json --timestamp --log FILE: objects with times, and everything copied to the file', async () => {
    const port = await device('f32');
    const log = join(tmp.dir, 'monitor.log');
    const result = await monitor(['--port', port, '-i', 'Once upon a time', '-n', '6', '-t', '0', '--json', '--timestamp', '--log', log]);
    expect(result.status, result.stderr).to.equal(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; token?: number; time: string; text: string });
    expect(lines.map((l) => l.token ?? l.type)).to.deep.equal([1, 403, 407, 261, 378, 432, 383, 'summary']);
    expect(lines.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(l.time))).to.equal(true);
    expect(lines.at(-1)!.text).to.equal('Once upon a time, there');
    const logged = readFileSync(log, 'utf8');
    expect(logged).to.include(result.stdout);
    expect(logged).to.match(/connected to \/dev\/pts\/\d+/);

    const text = await monitor(['--port', port, '-i', 'Once upon a time', '-n', '40', '-t', '0', '--timestamp']);
    expect(text.stdout).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] Once upon a time, there was a little girl named Lily\. .*\n$/);
  });

  it("warns when the device runs another build's weights (--build another directory)", async () => {
    const port = await device('f32');
    const result = await monitor(['--port', port, '-i', 'Once upon a time', '-n', '6', '-t', '0', '--build', builds.q8.outDir]);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(
      /^warning: the device runs other weights than .*q8\/weights\.bin: its model hash is [0-9a-f]{16}, this build's is [0-9a-f]{16}/m,
    );
    expect(result.stderr).to.match(/NOT the build here/);
    expect(result.stdout).to.equal('Once upon a time, there\n');
  });

  it('interactive at a terminal: a prompt, Enter, the text; Ctrl+] exits', async () => {
    const port = await device('f32');
    const bin = join(projectRoot(), 'bin', 'llama2-embed.js');
    // `script` gives monitor a terminal; what we write to script's stdin is typed on it
    const command = `${process.execPath} ${bin} monitor --port ${port} -n 20 -t 0`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: tmp.dir,
      env: { ...process.env, LLAMA2_EMBED_MODELS: dirname(stories.model), TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (screen += t));
    const until = async (pattern: RegExp) => {
      for (let i = 0; i < 300 && !pattern.test(screen); i++) await new Promise((r) => setTimeout(r, 100));
      expect(screen).to.match(pattern);
    };
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await until(/Type a prompt and press Enter to generate\. Ctrl\+C stops a generation; Ctrl\+C at the prompt, or Ctrl\+\], exits\./);
      child.stdin.write('Once upon a time\r');
      await until(/20 tokens in .* tok\/s/);
      expect(screen.replace(/\r/g, '')).to.include('Once upon a time, there was a little girl named Lily. She loved to play\n');
      child.stdin.write('\x1d');
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))])).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses --baud 1200, the signal that reboots a Pico into BOOTSEL, before opening anything', () => {
    const message = expectUserError(cli(['monitor', '--port', '/dev/ttyACM0', '--baud', '1200']), 2);
    expect(message).to.match(
      /--baud 1200 is refused: opening a Raspberry Pi Pico's USB port at 1200 baud is the signal that reboots it into its BOOTSEL drive/,
    );
  });

  it('a port that is not there, and no board found: messages that say what to check', () => {
    const missing = expectUserError(cli(['monitor', '--port', join(tmp.dir, 'ttyNOPE')]));
    expect(missing).to.match(
      /ttyNOPE: no such serial port\. Is the board plugged in, with a data cable\? llama2-embed monitor --port auto looks for it\./,
    );
    // whatever this machine has, it is not a board running our firmware: detection fails clearly
    const auto = cli(['monitor', '--port', 'auto'], { timeout: 60_000 });
    expect(auto.status).to.not.equal(0);
    expect(auto.stderr).to.match(
      /^llama2-embed: (no board found on a serial port|cannot list the serial ports|several serial ports could be the board|no HELLO from the device)/,
    );
    expect(auto.stderr).to.match(/--port|HELLO/);
    expect(auto.stderr).to.not.match(/^\s+at /m);
  });
});
