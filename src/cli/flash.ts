/**
 * `llama2-embed flash`: put the last build's firmware on a board (src/flash/deploy.ts, doc/flash.md),
 * or with --emulate run it in rp2040js with its UART on a pseudo-terminal (src/flash/emulate.ts,
 * doc/monitor.md). --monitor continues into `monitor` on that board or pty.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UserError } from '../util/errors.js';
import { runMonitor, withMonitorOptions, type MonitorArgs } from './monitor.js';

interface FlashArgs extends MonitorArgs {
  firmware?: string;
  target: string;
  emulate: boolean;
  monitor: boolean;
  method?: string;
  interface?: string;
}

export const flashCommand: CommandModule<object, FlashArgs> = {
  command: 'flash [firmware]',
  describe: 'put the firmware on a board (or, with --emulate, run it in an emulator behind a pty)',
  builder: (y) =>
    withMonitorOptions(
      y
        .positional('firmware', { type: 'string', describe: 'a .uf2, .elf or build directory (default: the last build, build/<target>/)' })
        .option('target', { type: 'string', default: 'rp2040', describe: 'the board\'s target' })
        .option('emulate', { type: 'boolean', default: false, describe: 'run the firmware in the RP2040 emulator (rp2040js); its UART0 becomes a pseudo-terminal for monitor' })
        .option('monitor', { type: 'boolean', default: false, describe: 'continue into monitor (its options apply) once the firmware runs' })
        .option('method', { type: 'string', describe: 'uf2 (the boot drive, default), picotool, or openocd (a debug probe)' })
        .option('interface', { type: 'string', describe: '--method openocd: the probe\'s OpenOCD interface (default cmsis-dap)' }),
    )
      .example('$0 flash', 'copy build/rp2040/firmware.uf2 to the Pico')
      .example('$0 flash --emulate', 'no board: run it in the emulator and print the pty to monitor')
      .example('$0 flash --emulate --monitor -i "Once upon a time"', 'the same, and generate through it at once') as unknown as Argv<FlashArgs>,
  handler: (args: ArgumentsCamelCase<FlashArgs>) => (args.emulate ? emulate(args) : flashBoard(args)),
};

function report(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function flashBoard(args: FlashArgs): Promise<void> {
  const { deployToBoard } = await import('../flash/deploy.js');
  const { defaultOutDir } = await import('../toolchain/build.js');
  await deployToBoard({ firmware: args.firmware ?? defaultOutDir(args.target), method: args.method, port: args.port, target: args.target, report, interface: args.interface });
  if (args.monitor) await runMonitor(args);
}

async function emulate(args: FlashArgs): Promise<void> {
  if (args.method !== undefined) report('note: --method is for a real board; --emulate ignores it');
  if (args.monitor) (await import('../serial/port-choice.js')).checkBaudRate(args.baud); // before starting anything
  const { EmulatedBoard } = await import('../flash/emulate.js');
  const board = await EmulatedBoard.start({ firmware: args.firmware, target: args.target, report });
  try {
    if (args.monitor) {
      report(`RP2040 emulator (rp2040js) running ${board.firmware}; UART0 at ${board.devicePath}`);
      void board.ended.then((end) => end.reason !== 'stopped' && report(`the emulation ended: ${end.message}`));
      await runMonitor({ ...args, port: board.devicePath });
      return;
    }
    process.stdout.write(
      `RP2040 emulator (rp2040js) running ${board.firmware}\n` +
        `UART0: ${board.devicePath}\n` +
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
