/**
 * The `llama2-embed` command line: one file per command in this folder, put together here.
 * Errors meant for the user (UserError) are printed as they are, without a stack trace;
 * anything else is reported as an internal error (set LLAMA2_EMBED_DEBUG=1 for the stack).
 */
import yargs from 'yargs';
import { UserError, describeError } from '../util/errors.js';
import { buildCommand } from './build.js';
import { doctorCommand } from './doctor.js';
import { flashCommand } from './flash.js';
import { monitorCommand } from './monitor.js';
import { generateCommand } from './generate.js';
import { inspectCommand } from './inspect.js';
import { planCommand } from './plan.js';
import { pullCommand } from './pull.js';
import { quantizeCommand } from './quantize.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';

export async function main(argv: string[]): Promise<number> {
  let failure: unknown;
  const parser = yargs(argv)
    .scriptName('llama2-embed')
    .usage('$0 <command> [options]\n\nRun llama2.c models on microcontrollers and Raspberry Pis.')
    .command(generateCommand)
    .command(inspectCommand)
    .command(pullCommand)
    .command(quantizeCommand)
    .command(buildCommand)
    .command(planCommand)
    .command(runCommand)
    .command(flashCommand)
    .command(monitorCommand)
    .command(reportCommand)
    .command(doctorCommand)
    .demandCommand(1, 'Name a command: llama2-embed --help lists them.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      failure = err ?? new UserError(`${msg}\nRun llama2-embed --help for usage.`, 2);
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    failure ??= err;
  }
  if (failure === undefined) return 0;
  if (failure instanceof UserError) {
    process.stderr.write(`llama2-embed: ${failure.message}\n`);
    return failure.exitCode;
  }
  process.stderr.write(`llama2-embed: internal error: ${describeError(failure)}\n`);
  if (process.env.LLAMA2_EMBED_DEBUG && failure instanceof Error) process.stderr.write(`${failure.stack}\n`);
  else process.stderr.write('Set LLAMA2_EMBED_DEBUG=1 to see where it happened, and please report it.\n');
  return 70;
}
