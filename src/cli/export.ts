/** `llama2-embed export`: the model as a C library with a stable API, packaged for an ecosystem. */
import { parseKvWindow } from '../engine/kv-window.js';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ExportRequest } from '../library/export.js'; // a type only: the module itself is loaded when export runs
import { ARITHMETICS } from '../plan/plan.js';
import { QUANT_SCHEMES } from '../quant/schemes.js';
import { knownBoards } from '../library/boards.js';
import { knownCores } from '../library/cores.js';
import { knownFormats } from '../library/formats/index.js';

/** The request export runs, and how much it says. */
interface ExportArgs extends Omit<ExportRequest, 'kvWindow'> {
  /** SINKS+WINDOW, parsed by parseKvWindow. */
  kvWindow?: string;
  quiet?: boolean;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'the model as a C library (llama2_embed.h) for plain C, pico-sdk, Arduino, PlatformIO, ESP-IDF or Zephyr',
  builder: (y) =>
    y
      .option('format', {
        type: 'string',
        demandOption: `name the ecosystem with --format: ${knownFormats().join(', ')}`,
        describe: `the ecosystem (${knownFormats().join(', ')})`,
      })
      .option('core', {
        type: 'string',
        describe: `the core the kernels are for (${knownCores().join(', ')}; default: the board's, else generic)`,
      })
      .option('board', {
        type: 'string',
        describe: `a board whose memory the library must fit (${knownBoards().join(', ')})`,
      })
      .option('model', { alias: 'm', type: 'string', describe: 'checkpoint (.bin), a path or a name found by the model lookup' })
      .option('tokenizer', { alias: 'z', type: 'string', describe: 'tokenizer.bin (default: the one that goes with the model)' })
      .option('quant', { choices: QUANT_SCHEMES, describe: "weights precision (default: the checkpoint's own)" })
      .option('group-size', { type: 'number', describe: 'group size of quantized weights (default: chosen for the model)' })
      .option('arithmetic', {
        choices: ARITHMETICS,
        describe:
          "the kernels' arithmetic: float (float32, as llama2.c) or integer (fixed point, for cores without an FPU; Q8_0, or Q4_0 and mixed in shapes of multiples of 16)",
      })
      .option('seq-len', { type: 'number', describe: "context length, at most the model's (shrinks the KV cache)" })
      .option('kv-window', {
        type: 'string',
        describe:
          'SINKS+WINDOW (e.g. 4+60): a bounded KV cache of the first and the latest positions, an approximation past SINKS+WINDOW (doc/kv-window.md)',
      })
      .option('out', { alias: 'o', type: 'string', describe: 'output directory, replaced as a whole (default: build/library-<format>)' })
      .option('quiet', { alias: 'q', type: 'boolean', describe: 'print nothing but errors' })
      .example('$0 export --format c -o llama2_embed', 'include/llama2_embed.h, src/, a Makefile, CMakeLists.txt and examples/generate/')
      .example(
        '$0 export --format arduino --quant q8_0 --arithmetic integer -o Llama2Embed',
        'an Arduino library with the integer kernels',
      ) as unknown as Argv<ExportArgs>,
  handler: async (args: ArgumentsCamelCase<ExportArgs>) => {
    const { exportLibrary } = await import('../library/export.js'); // loads the C code generator only when needed
    const kvWindow = args.kvWindow === undefined ? undefined : parseKvWindow(args.kvWindow);
    const result = exportLibrary({
      format: args.format,
      core: args.core,
      board: args.board,
      model: args.model,
      tokenizer: args.tokenizer,
      quant: args.quant,
      groupSize: args.groupSize,
      arithmetic: args.arithmetic,
      seqLen: args.seqLen,
      kvWindow,
      out: args.out,
    });
    if (!args.quiet) {
      const s = result.summary;
      process.stderr.write(
        `exported ${result.outDir} (--format ${result.format.name}, --core ${result.core.name}${result.board ? `, --board ${result.board.name}` : ''})\n` +
          `  ${s.quant}, seq_len ${result.seqLen}; ${s.weightsBytes.toLocaleString('en-US')} bytes of weights (read-only), ${s.stateBytes.toLocaleString('en-US')} bytes of state (RAM), model hash ${s.modelHash}\n`,
      );
    }
  },
};
