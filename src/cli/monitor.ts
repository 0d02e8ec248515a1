/**
 * `llama2-embed monitor`: talk to a board (or the emulator's pty) running a llama2-embed firmware:
 * prompts tokenized here, text printed as the device's tokens arrive, the device's speed after.
 * Interactive when stdin is a terminal and no -i is given. `--raw` is a plain serial terminal.
 * The work is in src/serial/monitor.ts (generation) and src/serial/raw-terminal.ts (--raw).
 */
import { createInterface, type Interface } from 'node:readline';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Monitor } from '../serial/monitor.js';
import type { MonitorSink as Sink } from '../serial/monitor-output.js';
import type { Candidate } from '../serial/ports.js';
import { UserError } from '../util/errors.js';
import { printable } from '../util/printable.js';
import { parseSampling } from './generate.js';

export interface MonitorArgs {
  port?: string;
  baud: number;
  prompt?: string;
  steps: number;
  temperature: number;
  topp: number;
  seed?: string;
  raw: boolean;
  timestamp: boolean;
  log?: string;
  json: boolean;
  build?: string;
  tokenizer?: string;
  /** A Raspberry Pi (or any Linux machine) to run the deployed program on over SSH, instead of a serial port. */
  host?: string;
  path?: string;
  sshPort?: number;
  identity?: string;
  sshOption?: string[];
}

/** The SSH options of flash and monitor (a Pi reached over the network). */
export function withSshOptions<T>(y: Argv<T>) {
  return y
    .option('host', {
      type: 'string',
      describe: 'a Raspberry Pi over SSH, as user@host (pi@raspberrypi.local): your own ssh, keys and ~/.ssh/config',
    })
    .option('path', { type: 'string', describe: "with --host: the program's directory on the Pi (default ~/llama2-embed)" })
    .option('ssh-port', { type: 'number', describe: "with --host: the SSH server's port (default: 22, or ~/.ssh/config's)" })
    .option('identity', { type: 'string', describe: 'with --host: the private key to log in with (ssh -i)' })
    .option('ssh-option', { type: 'string', array: true, describe: 'with --host: an ssh -o option, KEY=VALUE (repeatable)' });
}

/** The SSH destination of --host and its options. */
export async function sshDestination(args: MonitorArgs) {
  const { checkDestination } = await import('../pi/ssh-client.js');
  const dest = { host: args.host!, port: args.sshPort, identity: args.identity, options: args.sshOption };
  checkDestination(dest);
  return dest;
}

/** monitor's options (also taken by `flash --monitor`). */
export function withMonitorOptions<T>(y: Argv<T>) {
  return y
    .option('port', { type: 'string', describe: 'serial port (/dev/ttyACM0, COM3, a pty), or auto: find the board (default)' })
    .option('baud', { type: 'number', default: 115200, describe: 'baud rate (never 1200: that reboots a Pico into BOOTSEL)' })
    .option('prompt', {
      alias: 'i',
      type: 'string',
      describe: 'generate once from this prompt and exit (default: interactive on a terminal)',
    })
    .option('steps', {
      alias: 'n',
      type: 'number',
      default: 256,
      describe: "positions to run, prompt included (0 = the device's whole context)",
    })
    .option('temperature', { alias: 't', type: 'number', default: 1.0, describe: '0 = greedy (argmax)' })
    .option('topp', { alias: 'p', type: 'number', default: 0.9, describe: 'top-p (nucleus) sampling threshold, in [0, 1]' })
    .option('seed', { alias: 's', type: 'string', describe: 'random seed, a positive integer (default: a new one for each generation)' })
    .option('raw', {
      type: 'boolean',
      default: false,
      describe: "a plain terminal: print the bytes as they come (an --embed-tokenizer firmware's text)",
    })
    .option('timestamp', { type: 'boolean', default: false, describe: 'the time at the start of every line (a "time" field with --json)' })
    .option('log', { type: 'string', describe: 'append everything printed to this file' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per token, then a summary object' })
    .option('build', {
      type: 'string',
      describe: 'build directory to check the device against and take the tokenizer from (default: build/<target>)',
    })
    .option('tokenizer', {
      alias: 'z',
      type: 'string',
      describe: "the tokenizer to decode the device's tokens with (default: the build's)",
    });
}

interface MonitorCommandArgs extends MonitorArgs {
  target?: string;
}

export const monitorCommand: CommandModule<object, MonitorCommandArgs> = {
  command: 'monitor',
  describe: 'talk to a board over its serial port (or a Raspberry Pi over SSH): prompts in, generated text out, with its speed',
  builder: (y) =>
    withSshOptions(withMonitorOptions(y))
      .option('target', {
        type: 'string',
        describe: 'the target the device should run (checked against its HELLO; the default --build is build/<target>)',
      })
      .example('$0 monitor', 'find the board, then type prompts')
      .example('$0 monitor --target rpi4 --host pi@raspberrypi.local -i "Once upon a time"', 'run the program flashed to a Pi over SSH')
      .example('$0 monitor --port /dev/ttyUSB0 -i "Once upon a time" -n 64 -t 0', 'one greedy story, then exit')
      .example('$0 monitor --raw', 'a plain serial terminal (Ctrl+] exits)') as unknown as Argv<MonitorCommandArgs>,
  handler: (args: ArgumentsCamelCase<MonitorCommandArgs>) => runMonitor(args, args.target),
};

/** Over SSH (--host): the connector that runs the deployed program, after checking the options that make no sense there. */
async function sshLink(args: MonitorArgs, target: string | undefined) {
  if (args.port !== undefined)
    throw new UserError('--port and --host exclude each other: --port is a serial port of this computer, --host a Pi reached over SSH.', 2);
  if (args.raw)
    throw new UserError(
      "--raw is a serial terminal; over SSH, log in with ssh and run the program yourself (it takes llama2.c's flags).",
      2,
    );
  const dest = await sshDestination(args);
  const { sshConnector } = await import('../pi/ssh-link.js');
  const { DEFAULT_REMOTE_DIR } = await import('../pi/ssh-deploy.js');
  const path = args.path ?? DEFAULT_REMOTE_DIR;
  const hint = `llama2-embed flash --target ${target ?? 'rpi4'} --host ${args.host}${args.path === undefined ? '' : ` --path ${args.path}`}`;
  return sshConnector(dest, path, hint);
}

/** Runs monitor with parsed arguments (flash --monitor calls it with the port it flashed). */
export async function runMonitor(args: MonitorArgs, target?: string): Promise<void> {
  const { checkBaudRate } = await import('../serial/port-choice.js');
  checkBaudRate(args.baud); // before anything else: never open a port at 1200 baud
  if (args.log !== undefined) {
    // before connecting: a --log that cannot be written must not cost a connection (or a generation)
    const { checkOutputFile } = await import('../util/paths.js');
    checkOutputFile(args.log, { flag: '--log', inputs: [args.tokenizer] });
  }
  if (args.host === undefined && args.path !== undefined)
    throw new UserError("--path is the program's directory on a Pi: it goes with --host.", 2);
  const connector = args.host === undefined ? undefined : await sshLink(args, target);
  const sampling = parseSampling({ steps: args.steps, temperature: args.temperature, topp: args.topp, seed: args.seed ?? '1' });
  const { consoleSink } = await import('../serial/monitor-output.js');
  const sink = consoleSink(args.log);
  const tty = Boolean(process.stdin.isTTY);
  const portRequest = { port: args.port, baudRate: args.baud, choosePort: tty ? askWhichPort : undefined };
  try {
    if (args.raw) {
      await runRaw(args, portRequest, sink);
      return;
    }
    const { Monitor } = await import('../serial/monitor.js');
    const monitor = await Monitor.connect({
      ...portRequest,
      connector,
      buildDir: args.build ?? (target === undefined ? undefined : (await import('../serial/device-build.js')).buildDirFor(target)),
      tokenizer: args.tokenizer,
      json: args.json,
      timestamp: args.timestamp,
      steps: sampling.steps,
      temperature: sampling.temperature,
      topp: sampling.topp,
      seed: args.seed === undefined ? undefined : sampling.seed,
      sink,
    });
    if (target !== undefined && monitor.device.targetName !== target) {
      sink.note(
        `warning: the device runs a ${printable(monitor.device.targetName)} program, not ${target}: flash it again with --target ${target}, or drop --target.`,
      );
    }
    try {
      if (args.prompt !== undefined || !tty) await generateOnce(monitor, args.prompt ?? '');
      else await interact(monitor, sink);
    } finally {
      await monitor.close();
    }
  } finally {
    sink.close();
  }
}

/** One generation; Ctrl+C cancels it (the device stops and says so), a second Ctrl+C quits at once. */
async function generateOnce(monitor: Monitor, prompt: string): Promise<void> {
  const cancel = new AbortController();
  const onSignal = () => {
    if (cancel.signal.aborted) process.exit(130);
    cancel.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await monitor.generate(prompt, cancel.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Prompts typed at a terminal, one generation each, until Ctrl+C at the prompt, Ctrl+] or Ctrl+D. */
async function interact(monitor: Monitor, sink: Sink): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  let generation: AbortController | undefined;
  let quit!: () => void;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  let quitRequested = false;
  const stop = () => {
    quitRequested = true;
    generation?.abort();
    quit();
  };
  rl.on('SIGINT', () => (generation ? generation.abort() : stop()));
  rl.on('close', stop);
  const onKey = (_text: string, key?: { sequence?: string }) => {
    if (key?.sequence === '\x1d') stop(); // Ctrl+]
  };
  process.stdin.on('keypress', onKey);
  sink.note('Type a prompt and press Enter to generate. Ctrl+C stops a generation; Ctrl+C at the prompt, or Ctrl+], exits.');
  let warnedLost: Promise<string> | undefined;
  try {
    while (!quitRequested) {
      if (warnedLost !== monitor.portLost) {
        const lost = monitor.portLost;
        warnedLost = lost;
        void lost.then((why) => {
          if (!quitRequested && !generation)
            sink.note(`\n${monitor.path}: ${why}. It is opened again for the next prompt (waiting for it up to 30 s).`);
        });
      }
      const line = await Promise.race([question(rl, '> '), quitting.then(() => undefined)]);
      if (line === undefined || quitRequested) break;
      generation = new AbortController();
      try {
        await monitor.generate(line, generation.signal);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        sink.note(`llama2-embed: ${err.message}`);
      } finally {
        generation = undefined;
      }
    }
  } finally {
    process.stdin.off('keypress', onKey);
    rl.close();
    process.stdin.pause();
  }
}

function question(rl: Interface, prompt: string): Promise<string> {
  return new Promise((resolve) => rl.question(prompt, resolve));
}

/** --raw: bytes to stdout; keys typed at a terminal go to the port. Ctrl+C or Ctrl+] exits. */
async function runRaw(args: MonitorArgs, portRequest: { port?: string; baudRate: number }, sink: Sink): Promise<void> {
  const { runRawTerminal } = await import('../serial/raw-terminal.js');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stdin = process.stdin;
  const keyboard = stdin.isTTY
    ? (send: (bytes: Uint8Array) => void) => {
        const onData = (data: Buffer) => {
          if (data.includes(0x03) || data.includes(0x1d))
            stop.abort(); // Ctrl+C, Ctrl+]
          else send(data);
        };
        stdin.setRawMode(true);
        stdin.on('data', onData);
        stdin.resume();
        return () => {
          stdin.off('data', onData);
          stdin.setRawMode(false);
          stdin.pause();
        };
      }
    : undefined;
  if (stdin.isTTY) sink.note('Ctrl+C or Ctrl+] exits.');
  try {
    await runRawTerminal({ ...portRequest, sink, timestamp: args.timestamp, signal: stop.signal, keyboard });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Asks, at the terminal, which of several candidate ports is the board. */
async function askWhichPort(candidates: Candidate[]): Promise<Candidate> {
  const { describePort } = await import('../serial/ports.js');
  process.stderr.write(
    `Several serial ports could be the board:\n${candidates.map((c, i) => `  ${i + 1}. ${describePort(c.port, c.device)}`).join('\n')}\n`,
  );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await question(rl, `Which one (1-${candidates.length})? `)).trim();
    const n = Number(answer);
    if (!Number.isInteger(n) || n < 1 || n > candidates.length)
      throw new UserError(`"${answer}" is not one of 1 to ${candidates.length}; run monitor again, or choose with --port PATH.`, 2);
    return candidates[n - 1];
  } finally {
    rl.close();
  }
}
