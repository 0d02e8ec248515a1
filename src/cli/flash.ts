/**
 * `llama2-embed flash`: put the last build's firmware on a board (src/pico/deploy.ts, doc/flash.md),
 * or with --emulate run it in rp2040js with its UART on a pseudo-terminal (src/emulator/emulate.ts,
 * doc/monitor.md), or with --host copy a Raspberry Pi's program to it over SSH (src/pi/ssh-deploy.ts,
 * doc/raspberry-pi.md). --monitor continues into `monitor` on that board, pty or Pi.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UserError } from '../util/errors.js';
import { runMonitor, sshDestination, withMonitorOptions, withSshOptions, type MonitorArgs } from './monitor.js';

interface FlashArgs extends MonitorArgs {
  firmware?: string;
  target: string;
  emulate: boolean;
  bootrom?: boolean;
  monitor: boolean;
  method?: string;
  interface?: string;
  serial?: string;
}

export const flashCommand: CommandModule<object, FlashArgs> = {
  command: 'flash [firmware]',
  describe: 'put the firmware on a board (or, with --emulate, run it in an emulator behind a pty)',
  builder: (y) =>
    withSshOptions(
      withMonitorOptions(
        y
          .positional('firmware', {
            type: 'string',
            describe: 'a .uf2, .elf or build directory (default: the last build, build/<target>/)',
          })
          .option('target', { type: 'string', default: 'rp2040', describe: "the board's target" })
          .option('emulate', {
            type: 'boolean',
            default: false,
            describe:
              'run the firmware in the RP2040 emulator (rp2040js); its serial port (USB CDC by default, UART0 for a --stdio uart build) becomes a pseudo-terminal for monitor',
          })
          .option('bootrom', {
            type: 'boolean',
            describe:
              'with --emulate: boot through the RP2040 boot ROM as the chip does (default when ../shared/rp2040/bootrom-b1.bin exists); --no-bootrom starts boot2 in place, faster',
          })
          .option('monitor', {
            type: 'boolean',
            default: false,
            describe: 'continue into monitor (its options apply) once the firmware runs',
          })
          .option('method', { type: 'string', describe: 'uf2 (the boot drive, default), picotool, or openocd (a debug probe)' })
          .option('interface', { type: 'string', describe: "--method openocd: the probe's OpenOCD interface (default cmsis-dap)" })
          .option('serial', {
            type: 'string',
            describe:
              'with --host: also run the program as a service serving the protocol on this serial device of the Pi (/dev/ttyGS0: USB gadget serial)',
          }),
      ),
    )
      .example('$0 flash', 'copy build/rp2040/firmware.uf2 to the Pico')
      .example('$0 flash --target rpi4 --host pi@raspberrypi.local', 'copy build/rpi4/llama2 to a Pi 4 over SSH (into ~/llama2-embed)')
      .example('$0 flash --emulate', 'no board: run it in the emulator and print the pty to monitor')
      .example(
        '$0 flash --emulate --monitor -i "Once upon a time"',
        'the same, and generate through it at once',
      ) as unknown as Argv<FlashArgs>,
  handler: (args: ArgumentsCamelCase<FlashArgs>) =>
    args.host !== undefined ? flashOverSsh(args) : args.emulate ? emulate(args) : flashBoard(args),
};

function report(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** --host: the program to a Raspberry Pi (or any Linux machine) over SSH; --monitor then runs it there. */
async function flashOverSsh(args: FlashArgs): Promise<void> {
  const { loadTarget } = await import('../plan/target.js');
  const target = loadTarget(args.target);
  if (target.output !== 'executable') {
    throw new UserError(
      `--host copies a Linux program over SSH, and target "${target.name}" is a microcontroller's firmware. Give the Pi's target: --target rpi4 (or rpi5, rpi-zero2).`,
      2,
    );
  }
  if (args.emulate) throw new UserError('--emulate runs a firmware in the RP2040 emulator; --host deploys to a Pi: choose one.', 2);
  if (args.method !== undefined || args.interface !== undefined)
    throw new UserError('--method and --interface are for a microcontroller; --host copies the program over SSH.', 2);
  if (args.port !== undefined)
    throw new UserError("--port is a serial port of this computer; with --host, give the SSH server's port as --ssh-port.", 2);
  if (args.serial !== undefined && args.monitor)
    throw new UserError(
      `--monitor runs the program over SSH, and --serial ${args.serial} gives its port to the service: drop --monitor and run llama2-embed monitor --port <the Pi's USB port on this computer> instead.`,
      2,
    );
  const dest = await sshDestination(args);
  const { deployOverSsh } = await import('../pi/ssh-deploy.js');
  const { defaultOutDir } = await import('../toolchain/build.js');
  const { remoteProgram } = await deployOverSsh({
    build: args.firmware ?? defaultOutDir(target.name),
    target: target.name,
    dest,
    remoteDir: args.path,
    serial: args.serial,
    report,
  });
  if (args.monitor) {
    await runMonitor(args, target.name);
    return;
  }
  const path = args.path === undefined ? '' : ` --path ${args.path}`;
  report(
    args.serial === undefined
      ? `done. Talk to it: llama2-embed monitor --target ${target.name} --host ${args.host}${path}   (or: ssh ${args.host} ${remoteProgram.slice(args.host!.length + 1)} -i "Once upon a time")`
      : `done. On the computer the Pi is plugged into: llama2-embed monitor --port /dev/ttyACM0 (COM3 on Windows; the Pi's USB gadget port)`,
  );
}

async function flashBoard(args: FlashArgs): Promise<void> {
  const { loadTarget } = await import('../plan/target.js');
  if (loadTarget(args.target).output === 'executable' && args.target !== 'host') {
    throw new UserError(
      `target "${args.target}" is a Raspberry Pi's program: give the Pi to copy it to, --host pi@raspberrypi.local (over SSH, with your keys; --path for its directory there).`,
      2,
    );
  }
  if (args.serial !== undefined) throw new UserError('--serial installs a service on a Pi: it goes with --host.', 2);
  if (args.bootrom !== undefined) report('note: --bootrom and --no-bootrom are for --emulate; a board always boots through its ROM');
  const { deployToBoard } = await import('../pico/deploy.js');
  const { defaultOutDir } = await import('../toolchain/build.js');
  await deployToBoard({
    firmware: args.firmware ?? defaultOutDir(args.target),
    method: args.method,
    port: args.port,
    target: args.target,
    report,
    interface: args.interface,
  });
  if (args.monitor) await runMonitor(args);
}

async function emulate(args: FlashArgs): Promise<void> {
  if (args.method !== undefined) report('note: --method is for a real board; --emulate ignores it');
  if (args.monitor) (await import('../serial/port-choice.js')).checkBaudRate(args.baud); // before starting anything
  const { EmulatedBoard } = await import('../emulator/emulate.js');
  const board = await EmulatedBoard.start({ firmware: args.firmware, target: args.target, report, bootRom: args.bootrom });
  try {
    if (args.monitor) {
      report(
        `RP2040 emulator (rp2040js) running ${board.firmware}; ${board.portName} at ${board.devicePath}${board.bootsThroughRom ? ' (booted through the boot ROM)' : ''}`,
      );
      void board.ended.then((end) => end.reason !== 'stopped' && report(`the emulation ended: ${end.message}`));
      await runMonitor({ ...args, port: board.devicePath });
      return;
    }
    process.stdout.write(
      `RP2040 emulator (rp2040js) running ${board.firmware}${board.bootsThroughRom ? ' (booted through the boot ROM)' : ''}\n` +
        `${board.portName}: ${board.devicePath}\n` +
        `  llama2-embed monitor --port ${board.devicePath}\n` +
        'Ctrl+C stops the emulator.\n',
    );
    const end = await untilSignal(board.ended);
    if (end) throw new UserError(`the emulation ended: ${end.message}`);
  } finally {
    const { cycles, emulatedMHz } = board.speed;
    await board.stop();
    report(`emulator stopped after ${(cycles / 1e6).toFixed(0)} million cycles (${emulatedMHz.toFixed(0)} emulated MHz)`);
  }
}

/** Waits for Ctrl+C (or SIGTERM), or for `ended`; resolves with what ended, or undefined for a signal. */
async function untilSignal<T>(ended: Promise<T>): Promise<T | undefined> {
  let onSignal!: () => void;
  const signalled = new Promise<undefined>((resolve) => (onSignal = () => resolve(undefined)));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await Promise.race([ended, signalled]);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
