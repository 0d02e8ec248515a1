/** `llama2-embed build`: quantize, plan, emit C and compile, for a target. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../plan/plan.js';
import { knownTargets } from '../plan/target.js';
import type { BuildRequest } from '../toolchain/build.js';
import { parseFlashSize } from '../flash/linker-script.js';
import { parseSampling, withGenerationOptions } from './generate.js';

export interface BuildArgs {
  target: string;
  model?: string;
  tokenizer?: string;
  quant?: WeightPrecision;
  groupSize?: number;
  seqLen?: number;
  threads?: number;
  out?: string;
  generic?: boolean;
  flashSize?: string;
  boot2?: 'safe' | 'fast';
}

interface BuildCommandArgs extends BuildArgs {
  prompt: string;
  steps: number;
  temperature: number;
  topp: number;
  seed?: string;
  embedTokenizer: boolean;
}

/** The options shared by build, plan and run. */
export function withBuildOptions<T>(y: Argv<T>) {
  return y
    .option('target', { type: 'string', default: 'host', describe: `target board or machine (${knownTargets().join(', ')})` })
    .option('model', { alias: 'm', type: 'string', describe: 'checkpoint (.bin), a path or a name found by the model lookup' })
    .option('tokenizer', { alias: 'z', type: 'string', describe: 'tokenizer.bin (default: the one that goes with the model)' })
    .option('quant', { choices: WEIGHT_PRECISIONS, describe: 'weights precision (default: the checkpoint\'s own)' })
    .option('group-size', { type: 'number', describe: 'group size of quantized weights (default: chosen for the model)' })
    .option('seq-len', { type: 'number', describe: 'context length, at most the model\'s (shrinks the KV cache)' })
    .option('threads', { type: 'number', describe: 'matmul threads (host and Linux targets)' })
    .option('out', { alias: 'o', type: 'string', describe: 'output directory (default: build/<target>)' })
    .option('flash-size', { type: 'string', describe: 'firmware: the board\'s flash size (2M for a Pico; 4M, 16M for others)' })
    .option('boot2', { choices: ['safe', 'fast'] as const, describe: 'RP2040: the second-stage boot (safe: 03h reads; fast: dual-output 3Bh reads)' })
    .option('generic', { type: 'boolean', hidden: true, describe: 'do not specialize kernels (benchmark baseline)' });
}

export function buildRequest(args: BuildArgs): BuildRequest {
  return {
    target: args.target,
    model: args.model,
    tokenizer: args.tokenizer,
    quant: args.quant,
    groupSize: args.groupSize,
    seqLen: args.seqLen,
    threads: args.threads,
    out: args.out,
    generic: args.generic,
    flashBytes: args.flashSize === undefined ? undefined : parseFlashSize(args.flashSize),
    boot2: args.boot2,
  };
}

export const buildCommand: CommandModule<object, BuildCommandArgs> = {
  command: 'build',
  describe: 'quantize, plan memory, emit specialized C and compile it for a target',
  builder: (y) =>
    withGenerationOptions(withBuildOptions(y))
      .option('embed-tokenizer', {
        type: 'boolean',
        default: false,
        describe: 'firmware: compile the tokenizer in and print text (otherwise token ids, for the host to decode)',
      })
      .example('$0 build --target host -m stories260K.bin -z tok512.bin', 'a native program in build/host/')
      .example('$0 build --quant q8_0 --threads 2', 'int8 weights, matmuls on two threads')
      .example('$0 build --target rp2040 --quant q8_0 -i "Once upon a time" --embed-tokenizer', 'a Pico firmware (build/rp2040/firmware.uf2) that tells a story at reset') as unknown as Argv<BuildCommandArgs>,
  handler: async (args: ArgumentsCamelCase<BuildCommandArgs>) => {
    const sampling = parseSampling({ ...args, seed: args.seed ?? '42' }); // a firmware has no clock to seed from: 42 unless set
    const { build } = await import('../toolchain/build.js'); // loads the C code generator only when needed
    await build(
      {
        ...buildRequest(args),
        prompt: args.prompt,
        steps: sampling.steps,
        temperature: sampling.temperature,
        topp: sampling.topp,
        seed: sampling.seed,
        embedTokenizer: args.embedTokenizer,
      },
      (line) => process.stderr.write(`${line}\n`),
    );
  },
};
