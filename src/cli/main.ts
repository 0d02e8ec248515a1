/**
 * The `llama2-embed` command line: one file per command in this folder, put together here.
 * Errors meant for the user (UserError) are printed as they are, without a stack trace;
 * anything else is reported as an internal error (set LLAMA2_EMBED_DEBUG=1 for the stack).
 */
import yargs, { type Arguments, type Argv } from 'yargs';
import { UserError, describeError } from '../util/errors.js';
import { buildCommand } from './build.js';
import { doctorCommand } from './doctor.js';
import { exportCommand } from './export.js';
import { flashCommand } from './flash.js';
import { monitorCommand } from './monitor.js';
import { generateCommand } from './generate.js';
import { inspectCommand } from './inspect.js';
import { planCommand } from './plan.js';
import { pullCommand } from './pull.js';
import { quantizeCommand } from './quantize.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';

/** What yargs knows of the options of the command being run (its getOptions(), undeclared in its types). */
interface DeclaredOptions {
  array: string[];
  boolean: string[];
  number: string[];
  alias: Record<string, string[]>;
}

function flagOf(key: string): string {
  return key.length === 1 ? `-${key}` : `--${key}`;
}

/** An option as the user knows it: its name, then its aliases, one-letter ones last (`--steps / -n`, `--quant / --weights`). */
function optionName(key: string, declared: DeclaredOptions): string {
  const group = Object.entries(declared.alias).find(([name, aliases]) => name === key || aliases.includes(key));
  const names = group ? [group[0], ...group[1]] : [key];
  names.sort((a, b) => Number(a.length === 1) - Number(b.length === 1));
  return names.map(flagOf).join(' / ');
}

/**
 * Checks what yargs lets through before any command runs: an option given more than once
 * (`-z a -z b`; yargs would pass an array where one value is expected, except to options declared
 * as arrays such as `--ssh-option`), and a number option given an empty value (`-n ""`, which
 * yargs reads as 0).
 */
function checkOptionValues(rawArgs: readonly string[]) {
  return (argv: Arguments, y: Argv): void => {
    const declared = (y as unknown as { getOptions(): DeclaredOptions }).getOptions();
    const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const arrays = new Set(declared.array);
    for (const [key, value] of Object.entries(argv)) {
      if (key === '_' || key === '$0' || /[A-Z]/.test(key) || !Array.isArray(value) || arrays.has(kebab(key))) continue;
      const given = value.map((v) => JSON.stringify(String(v))).join(', ');
      throw new UserError(`${optionName(key, declared)} was given ${value.length} times (${given}); it takes one value. Give it once.`, 2);
    }
    refuseRepeatedFlags(rawArgs, declared);
    const numberFlags = new Map<string, string>();
    for (const key of declared.number) numberFlags.set(flagOf(key), optionName(key, declared));
    for (let i = 0; i < rawArgs.length; i++) {
      const arg = rawArgs[i];
      if (arg === '--') break;
      const eq = arg.indexOf('=');
      const [flag, value] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, rawArgs[i + 1]];
      const shown = numberFlags.get(flag);
      if (shown !== undefined && value !== undefined && value.trim() === '') {
        throw new UserError(`${shown} takes a number, got an empty value.`, 2);
      }
      if (shown !== undefined && value !== undefined && Number.isNaN(Number(value))) {
        throw new UserError(`${shown} takes a number, got "${value}".`, 2);
      }
    }
  };
}

/**
 * Refuses a one-value option given more than once, counted on the command line itself: yargs keeps
 * only the last of `-t 0 -t 1` when the option has a default, so its result cannot tell.
 */
function refuseRepeatedFlags(rawArgs: readonly string[], declared: DeclaredOptions): void {
  const groupOf = new Map<string, string>();
  for (const [name, aliases] of Object.entries(declared.alias)) {
    for (const key of [name, ...aliases]) groupOf.set(flagOf(key), name);
  }
  const seen = new Map<string, string[]>();
  for (const arg of rawArgs) {
    if (arg === '--') break;
    if (!arg.startsWith('-') || !Number.isNaN(Number(arg))) continue;
    const flag = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    const group = groupOf.get(flag) ?? flag.replace(/^--?/, '');
    if (declared.array.includes(group) || declared.boolean.includes(group)) continue;
    seen.set(group, [...(seen.get(group) ?? []), flag]);
  }
  for (const [group, flags] of seen) {
    if (flags.length > 1)
      throw new UserError(
        `${optionName(group, declared)} was given ${flags.length} times (${flags.join(', ')}); it takes one value. Give it once.`,
        2,
      );
  }
}

/**
 * How far `main` goes: `run` runs the command; `parse` stops once the command line has passed every
 * check yargs and checkOptionValues make (unknown options, choices, repeats), before the handler;
 * `options` stops before those checks and reports only which options the command declares.
 * The last two let a test hold the documentation's command lines against the real parser.
 */
export type ParseMode = 'run' | 'parse' | 'options';

/** Thrown by the `parse` and `options` modes in place of running the command. */
export class CommandLineParsed {
  constructor(
    readonly command: string,
    /** Every option name and alias the command declares (without dashes). */
    readonly options: string[],
  ) {}
}

function stopWith() {
  return (argv: Arguments, y: Argv): void => {
    const declared = (y as unknown as { getOptions(): DeclaredOptions & { key: Record<string, unknown> } }).getOptions();
    const names = new Set([...Object.keys(declared.key), ...Object.values(declared.alias).flat()]);
    throw new CommandLineParsed(String(argv._[0] ?? ''), [...names]);
  };
}

/** The parser, with every command; `mode` as in ParseMode. */
function makeParser(argv: string[], mode: ParseMode, onFail: (failure: unknown) => never): Argv {
  let parser = yargs(argv)
    .scriptName('llama2-embed')
    .usage('$0 <command> [options]\n\nRun llama2.c models on microcontrollers and Raspberry Pis.')
    .command(generateCommand)
    .command(inspectCommand)
    .command(pullCommand)
    .command(quantizeCommand)
    .command(buildCommand)
    .command(planCommand)
    .command(exportCommand)
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
    .exitProcess(mode === 'run');
  if (mode === 'options') parser = parser.middleware(stopWith() as unknown as (argv: Arguments) => void, true);
  parser = parser.middleware(checkOptionValues(argv) as unknown as (argv: Arguments) => void, true);
  if (mode === 'parse') parser = parser.middleware(stopWith() as unknown as (argv: Arguments) => void, false);
  // Throwing (not just recording) is what stops yargs: a fail handler that returns lets it run
  // the command's handler anyway, so an unknown or bad option was reported only after the work.
  return parser.fail((msg, err) => onFail(err ?? new UserError(`${msg}\nRun llama2-embed --help for usage.`, 2)));
}

/**
 * Checks a command line without running it (mode `parse`), or lists the options of its command
 * (mode `options`): the CommandLineParsed, or the UserError the command line earns.
 */
export async function checkCommandLine(argv: string[], mode: Exclude<ParseMode, 'run'>): Promise<CommandLineParsed | UserError> {
  let failure: unknown;
  const parser = makeParser(argv, mode, (f) => {
    failure = f;
    throw f;
  });
  try {
    await parser.parseAsync();
  } catch (err) {
    failure ??= err;
  }
  if (failure instanceof CommandLineParsed || failure instanceof UserError) return failure;
  throw failure ?? new Error(`checkCommandLine: ${argv.join(' ')} neither ran into a check nor reached a command`);
}

/**
 * Runs the CLI on `argv` (the arguments after the program name) and returns the exit code: 0, a
 * UserError's own code after printing its message to stderr, or 70 for an internal error (an
 * Error: printed as a bug to report, with its stack when LLAMA2_EMBED_DEBUG is set). Never throws.
 */
export async function main(argv: string[]): Promise<number> {
  let failure: unknown;
  const parser = makeParser(argv, 'run', (f) => {
    failure = f;
    throw f;
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
