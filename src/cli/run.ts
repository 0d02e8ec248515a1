/**
 * `llama2-embed run`: builds the program for the target if the last build does not match, then runs
 * it with generate's flags: the host's as a native process, a Raspberry Pi's (AArch64 Linux) under
 * qemu-aarch64 emulating the board's CPU when this machine is not ARM64.
 */
import { spawn } from 'node:child_process';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { defaultTokenizerFor, DEFAULT_MODEL } from '../engine/load.js';
import { locateModelFile } from '../models/locate.js';
import { readCheckpointHeader } from '../checkpoint/read.js';
import { loadTarget, type Target } from '../plan/target.js';
import { requireTool } from '../toolchain/make.js';
import { UserError } from '../util/errors.js';
import { buildRequest, stderrReporter, withBuildOptions, withOutputOptions, type BuildArgs, type OutputArgs } from './build.js';
import { OUTPUT_FORMATS, parseSampling, withGenerationOptions, type OutputFormat } from './generate.js';

interface RunArgs extends BuildArgs, OutputArgs {
  prompt: string;
  steps: number;
  temperature: number;
  topp: number;
  seed?: string;
  format: OutputFormat;
  emulate?: boolean;
}

/**
 * How qemu user mode runs a cross-built Linux program of `target` (`aarch64-linux-gnu-gcc` →
 * `qemu-aarch64`, `-mcpu=cortex-a72` → `-cpu cortex-a72`), or undefined for a native target.
 */
export function emulatorFor(target: Target): { command: string; args: string[]; arch: string } | undefined {
  const triple = /^([a-z0-9_]+)-linux-gnu-/.exec(target.toolchain.cc);
  if (target.output !== 'executable' || !triple) return undefined;
  const cpu = target.toolchain.cflags.map((f) => /^-mcpu=([a-z0-9.-]+)/.exec(f)?.[1]).find((c) => c !== undefined);
  return { command: `qemu-${triple[1]}`, args: cpu ? ['-cpu', cpu] : [], arch: triple[1] };
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run',
  describe: 'build the program for a target if needed and generate with it (flags as generate)',
  builder: (y) =>
    withOutputOptions(withGenerationOptions(withBuildOptions(y)))
      .option('format', {
        choices: OUTPUT_FORMATS.filter((f) => f !== 'jsonl'),
        default: 'text' as OutputFormat,
        describe: 'text, or token ids (P/G lines)',
      })
      .option('emulate', {
        type: 'boolean',
        describe: "run a Raspberry Pi program under qemu-aarch64 with the board's CPU (default: when this machine is not ARM64)",
      })
      .option('on-device', {
        type: 'boolean',
        hidden: true,
        describe: "build's option: refused here with what to do instead",
      }) as unknown as Argv<RunArgs>,
  handler: async (args: ArgumentsCamelCase<RunArgs>) => {
    if ((args as { onDevice?: boolean }).onDevice) {
      throw new UserError(
        `run executes the program on this computer; to compile on a Pi and generate there: llama2-embed build --target ${args.target} --on-device --host pi@raspberrypi.local, then llama2-embed monitor --target ${args.target} --host pi@raspberrypi.local.`,
        2,
      );
    }
    const target = loadTarget(args.target);
    if (target.output !== 'executable')
      throw new UserError(`run executes the program here; for ${args.target} use build, flash and monitor.`, 2);
    const emulator = emulatorFor(target);
    const emulate = emulator !== undefined && (args.emulate ?? emulator.arch !== (process.arch === 'arm64' ? 'aarch64' : process.arch));
    const sampling = parseSampling(args);
    const { build, checkBuildRequest, requestKey, upToDate } = await import('../toolchain/build.js');
    const req = buildRequest(args);
    const { outDir } = checkBuildRequest(req);
    const modelPath = locateModelFile(req.model ?? DEFAULT_MODEL);
    const tokenizerPath = locateModelFile(
      req.tokenizer ?? defaultTokenizerFor(modelPath, readCheckpointHeader(modelPath).config.vocabSize),
    );
    // the build there if it was made from these options and its program is the one its build-info.json describes
    let info = upToDate(outDir, requestKey(req, modelPath, tokenizerPath));
    if (!info) info = (await build(req, stderrReporter(args))).info;
    const programArgs = [
      '-i',
      args.prompt,
      '-n',
      String(sampling.steps),
      '-t',
      String(sampling.temperature),
      '-p',
      String(sampling.topp),
      '-s',
      String(sampling.seed),
      '--format',
      args.format,
    ];
    let command = info.executable;
    if (emulate && emulator) {
      const why = `to run the ${target.name} program (${emulator.arch} Linux) on this ${process.arch} machine`;
      requireTool(
        emulator.command,
        why,
        `apt-get install qemu-user (Debian/Ubuntu), or copy ${info.executable} to the board and run it there`,
      );
      if (!args.quiet)
        process.stderr.write(`running under ${emulator.command} ${emulator.args.join(' ')} (emulated: tok/s are not the board's)\n`);
      programArgs.unshift(...emulator.args, info.executable);
      command = emulator.command;
    }
    const child = spawn(command, programArgs, { stdio: 'inherit' });
    const code = await new Promise<number>((done, fail) => {
      child.on('error', fail);
      child.on('close', (c, signal) => done(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) throw new UserError(`${info.executable} exited with ${code}.`, code);
  },
};
