/**
 * `llama2-embed run`: builds the program for the target if the last build does not match, then runs
 * it with generate's flags (host target: a native process).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { defaultTokenizerFor, DEFAULT_MODEL } from '../engine/load.js';
import { locateModelFile } from '../models/locate.js';
import { UserError } from '../util/errors.js';
import { buildRequest, withBuildOptions, type BuildArgs } from './build.js';
import { OUTPUT_FORMATS, parseSampling, withGenerationOptions, type OutputFormat } from './generate.js';

interface RunArgs extends BuildArgs {
  prompt: string;
  steps: number;
  temperature: number;
  topp: number;
  seed?: string;
  format: OutputFormat;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run',
  describe: 'build the program for a target if needed and generate with it (flags as generate)',
  builder: (y) =>
    withGenerationOptions(withBuildOptions(y)).option('format', {
      choices: OUTPUT_FORMATS.filter((f) => f !== 'jsonl'),
      default: 'text' as OutputFormat,
      describe: 'text, or token ids (P/G lines)',
    }) as unknown as Argv<RunArgs>,
  handler: async (args: ArgumentsCamelCase<RunArgs>) => {
    if (args.target !== 'host') throw new UserError(`run executes the program here; for ${args.target} use build, flash and monitor.`, 2);
    const sampling = parseSampling(args);
    const { build, defaultOutDir, requestKey, upToDate } = await import('../toolchain/build.js');
    const req = buildRequest(args);
    const modelPath = locateModelFile(req.model ?? DEFAULT_MODEL);
    const tokenizerPath = locateModelFile(req.tokenizer ?? defaultTokenizerFor(modelPath));
    const outDir = resolve(req.out ?? defaultOutDir(req.target));
    let info = upToDate(outDir, requestKey(req, modelPath, tokenizerPath));
    if (!info) info = (await build(req, (line) => process.stderr.write(`${line}\n`))).info;
    const programArgs = ['-i', args.prompt, '-n', String(sampling.steps), '-t', String(sampling.temperature), '-p', String(sampling.topp), '-s', String(sampling.seed), '--format', args.format];
    const child = spawn(info.executable, programArgs, { stdio: 'inherit' });
    const code = await new Promise<number>((done, fail) => {
      child.on('error', fail);
      child.on('close', (c, signal) => done(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) throw new UserError(`${info.executable} exited with ${code}.`, code);
  },
};
