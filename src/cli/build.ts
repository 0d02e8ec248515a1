/** `llama2-embed build`: quantize, plan, emit C and compile, for a target. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ARITHMETICS, type Arithmetic } from '../plan/plan.js';
import { QUANT_SCHEMES, type QuantScheme } from '../quant/schemes.js';
import { FIRMWARE_STDIO, knownTargets, type FirmwareStdio } from '../plan/target.js';
import type { BuildRequest, Reporter } from '../toolchain/build.js';
import { parseFlashSize } from '../firmware-image/linker-script.js';
import { parseSampling, withGenerationOptions } from './generate.js';
import { withSshOptions } from './monitor.js';
import { parseKvWindow } from '../engine/kv-window.js';

export interface BuildArgs {
  target: string;
  model?: string;
  tokenizer?: string;
  quant?: QuantScheme;
  groupSize?: number;
  arithmetic?: Arithmetic;
  seqLen?: number;
  kvWindow?: string;
  threads?: number;
  out?: string;
  generic?: boolean;
  flashSize?: string;
  boot2?: 'safe' | 'fast' | 'quad';
  clock?: number;
  stdio?: FirmwareStdio;
  sramWeights?: boolean;
  sramCode?: boolean;
  streamWeights?: boolean;
}

/** --verbose and --quiet: how much of a build `build` and `run` print. */
export interface OutputArgs {
  verbose?: boolean;
  quiet?: boolean;
}

/** The --verbose and --quiet options of build and run. */
export function withOutputOptions<T>(y: Argv<T>) {
  return y
    .option('verbose', { type: 'boolean', describe: "print each step of the build, the compiler's steps and the whole memory plan" })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print nothing but errors while building' })
    .conflicts('verbose', 'quiet');
}

/**
 * The reporter a build prints through, on stderr: by default what was built, where and its sizes
 * against the board (and choices made for the user); everything with --verbose; nothing with --quiet.
 */
export function stderrReporter(args: OutputArgs): Reporter {
  return (line, level = 'info') => {
    if (args.quiet || (level === 'detail' && !args.verbose)) return;
    process.stderr.write(`${line}\n`);
  };
}

interface BuildCommandArgs extends BuildArgs, OutputArgs {
  prompt: string;
  steps: number;
  temperature: number;
  topp: number;
  seed?: string;
  embedTokenizer: boolean;
  /** --on-device: compile on the Pi given with --host (and its SSH options) instead of with the cross compiler here. */
  onDevice: boolean;
  host?: string;
  path?: string;
  sshPort?: number;
  identity?: string;
  sshOption?: string[];
}

/** --on-device and --host: where the program is compiled, or undefined for here; the options' mistakes as usage errors. */
async function onDeviceOptions(args: BuildCommandArgs): Promise<BuildRequest['onDevice']> {
  const { UserError } = await import('../util/errors.js');
  if (!args.onDevice) {
    if (args.host !== undefined) {
      throw new UserError(
        `--host goes with --on-device (compile on the Pi). To copy a program built here to it: llama2-embed flash --target ${args.target} --host ${args.host}.`,
        2,
      );
    }
    if (args.path !== undefined || args.sshPort !== undefined || args.identity !== undefined || args.sshOption !== undefined) {
      throw new UserError('--path, --ssh-port, --identity and --ssh-option go with --on-device --host.', 2);
    }
    return undefined;
  }
  if (args.host === undefined) {
    throw new UserError(
      `--on-device compiles on a Raspberry Pi over SSH: give it with --host, e.g. llama2-embed build --target ${args.target === 'host' ? 'rpi4' : args.target} --on-device --host pi@raspberrypi.local.`,
      2,
    );
  }
  const { checkDestination } = await import('../pi/ssh-client.js');
  checkDestination({ host: args.host, port: args.sshPort, identity: args.identity, options: args.sshOption });
  return { host: args.host, path: args.path, sshPort: args.sshPort, identity: args.identity, sshOptions: args.sshOption };
}

/** The options shared by build, plan and run. */
export function withBuildOptions<T>(y: Argv<T>) {
  return y
    .option('target', { type: 'string', default: 'host', describe: `target board or machine (${knownTargets().join(', ')})` })
    .option('model', { alias: 'm', type: 'string', describe: 'checkpoint (.bin), a path or a name found by the model lookup' })
    .option('tokenizer', { alias: 'z', type: 'string', describe: 'tokenizer.bin (default: the one that goes with the model)' })
    .option('quant', {
      choices: QUANT_SCHEMES,
      describe: "weights precision (default: the target's (rp2040: q8_0), else the checkpoint's own)",
    })
    .option('group-size', { type: 'number', describe: 'group size of quantized weights (default: chosen for the model)' })
    .option('arithmetic', {
      choices: ARITHMETICS,
      describe:
        "the kernels' arithmetic: float (float32, as llama2.c) or integer (fixed point and an int8 KV cache, for cores without an FPU; Q8_0, or Q4_0 and mixed in shapes of multiples of 16). Default: the target's (rp2040: integer)",
    })
    .option('seq-len', { type: 'number', describe: "context length, at most the model's (shrinks the KV cache)" })
    .option('kv-window', {
      type: 'string',
      describe:
        'SINKS+WINDOW (e.g. 4+60): a bounded KV cache of the first SINKS positions and the latest WINDOW, whatever the context (StreamingLLM); exact up to SINKS+WINDOW positions, an approximation after (doc/kv-window.md). Default: exact, a row per position',
    })
    .option('threads', {
      type: 'number',
      describe: 'threads for the matmuls, attention heads and SwiGLU (host and Linux targets; rp2040: 2 puts its second core to work)',
    })
    .option('out', { alias: 'o', type: 'string', describe: 'output directory (default: build/<target>)' })
    .option('flash-size', { type: 'string', describe: "firmware: the board's flash size (2M for a Pico; 4M, 16M for others)" })
    .option('boot2', {
      choices: ['safe', 'fast', 'quad'] as const,
      describe:
        "RP2040: the second-stage boot (safe: 03h reads; fast: dual-output 3Bh reads; quad: EBh quad I/O in continuous read, sets the flash's Quad Enable bit)",
    })
    .option('sram-weights', {
      type: 'boolean',
      describe:
        'firmware: copy as many weight tensors as the SRAM left over by the state holds into SRAM at boot, read without flash wait states (default: on; --no-sram-weights keeps all in flash)',
    })
    .option('sram-code', {
      type: 'boolean',
      describe:
        "RP2040: run the forward pass and its kernels from SRAM (copied at boot) instead of through the XIP cache, taking that SRAM from the weights' copies (default: on when the state leaves room)",
    })
    .option('stream-weights', {
      type: 'boolean',
      describe:
        'RP2040, integer mode: stream the weight matrices not copied to SRAM from flash by DMA (the XIP stream FIFO) into an SRAM ring while the core computes, instead of reading them through the XIP cache (faster with the quad boot2; default off)',
    })
    .option('clock', {
      type: 'number',
      describe:
        'RP2040: the system clock in MHz, a whole number from 125 to 200 (default 133, the rated clock; above it the firmware raises the core to 1.15 V)',
    })
    .option('stdio', {
      choices: FIRMWARE_STDIO,
      describe: "RP2040: where the firmware talks: usb (the Pico's own USB port, the default), uart (UART0 on GP0/GP1) or both",
    })
    .option('generic', { type: 'boolean', hidden: true, describe: 'do not specialize kernels (benchmark baseline)' });
}

/**
 * The build request (src/toolchain/build.ts) from `build`'s parsed options: --flash-size parsed to
 * bytes and --kv-window to its sinks and window (UserError if malformed), --clock still in MHz.
 */
export function buildRequest(args: BuildArgs): BuildRequest {
  return {
    target: args.target,
    model: args.model,
    tokenizer: args.tokenizer,
    quant: args.quant,
    groupSize: args.groupSize,
    arithmetic: args.arithmetic,
    seqLen: args.seqLen,
    kvWindow: args.kvWindow === undefined ? undefined : parseKvWindow(args.kvWindow),
    threads: args.threads,
    out: args.out,
    generic: args.generic,
    flashBytes: args.flashSize === undefined ? undefined : parseFlashSize(args.flashSize),
    boot2: args.boot2,
    clockMHz: args.clock,
    stdio: args.stdio,
    sramWeights: args.sramWeights,
    sramCode: args.sramCode,
    streamWeights: args.streamWeights,
  };
}

export const buildCommand: CommandModule<object, BuildCommandArgs> = {
  command: 'build',
  describe: 'quantize, plan memory, emit specialized C and compile it for a target',
  builder: (y) =>
    withOutputOptions(withSshOptions(withGenerationOptions(withBuildOptions(y))))
      .option('on-device', {
        type: 'boolean',
        default: false,
        describe:
          'Raspberry Pi targets: compile on the Pi given with --host (its gcc and make, over SSH) instead of with the cross compiler here; the program stays there, in --path',
      })
      .option('embed-tokenizer', {
        type: 'boolean',
        default: false,
        describe: 'firmware: compile the tokenizer in and print text (otherwise token ids, for the host to decode)',
      })
      .example('$0 build --target host -m stories260K.bin -z tok512.bin', 'a native program in build/host/')
      .example('$0 build --quant q8_0 --threads 2', 'int8 weights, matmuls on two threads')
      .example(
        '$0 build --target rpi4 --on-device --host pi@raspberrypi.local',
        'compile on the Pi 4 itself, leaving ~/llama2-embed/llama2 there',
      )
      .example(
        '$0 build --target rp2040 --quant q8_0 -i "Once upon a time" --embed-tokenizer',
        'a Pico firmware (build/rp2040/firmware.uf2) that tells a story at reset',
      ) as unknown as Argv<BuildCommandArgs>,
  handler: async (args: ArgumentsCamelCase<BuildCommandArgs>) => {
    const sampling = parseSampling({ ...args, seed: args.seed ?? '42' }); // a firmware has no clock to seed from: 42 unless set
    const onDevice = await onDeviceOptions(args);
    const { build } = await import('../toolchain/build.js'); // loads the C code generator only when needed
    const request: BuildRequest = {
      ...buildRequest(args),
      prompt: args.prompt,
      steps: sampling.steps,
      temperature: sampling.temperature,
      topp: sampling.topp,
      seed: sampling.seed,
      embedTokenizer: args.embedTokenizer,
      onDevice,
    };
    await build(request, stderrReporter(args)); // checks the target, the options and the output directory before loading anything
    if (onDevice && !args.quiet) {
      const path = onDevice.path === undefined ? '' : ` --path ${onDevice.path}`;
      const out = args.out === undefined ? '' : ` --build ${args.out}`;
      process.stderr.write(`done. Talk to it: llama2-embed monitor --target ${args.target} --host ${onDevice.host}${path}${out}\n`);
    }
  },
};
