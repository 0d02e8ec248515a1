/**
 * `llama2-embed pull NAME`: downloads a known model and its tokenizer into the model cache (or
 * `--dir`), resuming an interrupted download; `--list` shows the known models and which of their
 * files are already here. Ctrl+C stops the download and keeps the partial file for a later resume.
 */
import { dirname, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { modelCacheDir, modelSearchPath } from '../models/locate.js';
import { knownModelPresence, pullModel } from '../models/pull.js';
import type { ModelPresence, PullResult } from '../models/pull.js';
import { KNOWN_MODELS } from '../models/registry.js';
import { UserError } from '../util/errors.js';
import { formatBytes } from '../util/progress.js';
import { formatTable } from '../util/table.js';

interface PullArgs {
  name?: string;
  list: boolean;
  force: boolean;
  dir?: string;
  mirror?: string;
  timeout: number;
  quiet: boolean;
}

export const pullCommand: CommandModule<object, PullArgs> = {
  command: 'pull [name]',
  describe: 'download a known model and its tokenizer into the model cache',
  builder: (y: Argv<object>): Argv<PullArgs> =>
    y
      .positional('name', { type: 'string', describe: `model to download: ${KNOWN_MODELS.map((m) => m.name).join(', ')}` })
      .option('list', { type: 'boolean', default: false, describe: 'list the known models and which of their files are here' })
      .option('force', { type: 'boolean', default: false, describe: 'download again even if the files are already here' })
      .option('dir', { type: 'string', describe: 'download into this directory instead of the model cache' })
      .option('mirror', {
        type: 'string',
        describe: 'fetch each file from MIRROR/<file name> instead of its public URL (default: $LLAMA2_EMBED_MIRROR)',
      })
      .option('timeout', { type: 'number', default: 30, describe: 'give up when no data arrives for this many seconds' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress bar' })
      .example('$0 pull stories260K', 'the 260K-parameter model and its 512-token tokenizer')
      .example('$0 pull --list', 'what can be downloaded, and what is already here')
      .example('$0 pull stories15M --mirror http://files.lan/llama2', 'from a local mirror') as unknown as Argv<PullArgs>,
  handler: (args: ArgumentsCamelCase<PullArgs>) => runPull(args),
};

/**
 * Runs `pull`: with `--list` prints the known models and where their files are; else downloads
 * `args.name` and prints where it went and how to run it. Ctrl+C aborts and keeps the partial file.
 * Throws a UserError for a missing name, a bad --timeout, an unknown model or a failed download.
 */
export async function runPull(args: PullArgs, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (args.list) {
    process.stdout.write(formatModelList(knownModelPresence({ dir: args.dir, env }), args.dir ?? modelCacheDir(env)));
    return;
  }
  if (!args.name) {
    throw new UserError('Name the model to download, e.g. llama2-embed pull stories260K (llama2-embed pull --list shows them all).', 2);
  }
  if (!(args.timeout > 0)) throw new UserError(`--timeout must be a number of seconds > 0, got ${args.timeout}.`, 2);

  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await pullModel(args.name, {
      dir: args.dir,
      mirror: args.mirror,
      force: args.force,
      stallTimeoutMs: args.timeout * 1000,
      quiet: args.quiet,
      signal: interrupt.signal,
      env,
    });
    process.stdout.write(formatPullResult(result, env));
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** What `pull` did, and how to use the model. */
export function formatPullResult(result: PullResult, env: NodeJS.ProcessEnv = process.env): string {
  const rows = result.files.map((f) => [
    f.file.name,
    formatBytes(f.bytes),
    f.outcome === 'already-present'
      ? dirname(f.path) === result.dir
        ? 'already downloaded'
        : 'already here'
      : f.resumedFrom > 0
        ? `downloaded (resumed at ${formatBytes(f.resumedFrom)})`
        : 'downloaded',
    dirname(f.path),
  ]);
  const [checkpoint, tokenizer] = result.files;
  const searchDirs = modelSearchPath(env).map((place) => resolve(place.dir));
  const searched = result.files.every((f) => searchDirs.includes(resolve(dirname(f.path))));
  const name = (f: { file: { name: string }; path: string }): string => (searched ? f.file.name : f.path);
  const dirs = [...new Set(result.files.map((f) => dirname(f.path)))];
  const lines = [
    `${result.model.name} is ready${dirs.length === 1 ? ` in ${dirs[0]}` : ''}`,
    formatTable([], rows, { indent: '  ', align: ['left', 'right', 'left', 'left'] }),
    `Try it: llama2-embed generate -m ${name(checkpoint)} -z ${name(tokenizer)} -i "Once upon a time"`,
  ];
  if (!searched) {
    lines.push(`(${result.dir} is not in the model search path: pass the paths as above, or set LLAMA2_EMBED_MODELS=${result.dir})`);
  }
  return `${lines.join('\n')}\n`;
}

/** The known models, their files and where each one is (or that it is not downloaded). */
export function formatModelList(models: ModelPresence[], downloadDir: string): string {
  const rows = models.flatMap((m) =>
    m.files.map((f, i) => [
      i === 0 ? m.model.name : '',
      f.file.name,
      f.file.bytes !== undefined ? formatBytes(f.file.bytes) : '?',
      f.path === undefined ? 'not downloaded' : f.problem ? `${f.path} (but ${f.problem})` : f.path,
    ]),
  );
  const table = formatTable(['model', 'file', 'size', 'where'], rows, { align: ['left', 'left', 'right', 'left'] });
  const descriptions = models.map((m) => `  ${m.model.name.padEnd(12)} ${m.model.description}`).join('\n');
  return `${table}\n\n${descriptions}\n\nllama2-embed pull NAME downloads into ${downloadDir}\n`;
}
