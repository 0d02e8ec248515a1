/**
 * `llama2-embed pull` as a user runs it: a child process (bin/llama2-embed.js) fetching from a
 * local test server through `--mirror` into a temporary `--dir`.
 *
 * While other commands are being written, dist/src/cli/main.js may fail to load (a module it
 * imports is missing); the tests then run `pull` through a stand-in entry point that registers only
 * this command and reports errors the way main.ts does, and say so in the output.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { partPathFor } from '../../src/models/download.js';
import { projectRoot } from '../../src/util/project-root.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { FileServer } from '../models/file-server.js';
import { needs } from '../helpers/needs.js';

const ROOT = projectRoot();

/** Only `pull`, with main.ts's error reporting; used when main.js cannot be loaded yet. */
const STAND_IN = `
import yargs from 'yargs';
import { pullCommand } from './dist/src/cli/pull.js';
import { UserError } from './dist/src/util/errors.js';
let failure;
try {
  await yargs(process.argv.slice(1)).scriptName('llama2-embed').command(pullCommand).strict()
    .fail((msg, err) => { failure = err ?? new UserError(msg, 2); }).parseAsync();
} catch (err) { failure ??= err; }
if (failure instanceof UserError) { process.stderr.write('llama2-embed: ' + failure.message + '\\n'); process.exitCode = failure.exitCode; }
else if (failure !== undefined) { process.stderr.write('llama2-embed: internal error: ' + failure + '\\n'); process.exitCode = 70; }
`;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('cli/pull', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(30_000);
  let server: FileServer;
  let temp: { dir: string; cleanup: () => void };
  let entry: string[];

  before(async () => {
    server = await FileServer.start(dirname(modelPath('stories260K.bin')));
    try {
      await import(pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'main.js')).href);
      entry = [join(ROOT, 'bin', 'llama2-embed.js')];
    } catch (err) {
      console.log(
        `      (dist/src/cli/main.js does not load yet: ${String(err).split('\n')[0]}; testing pull through a stand-in entry point)`,
      );
      entry = ['--input-type=module', '-e', STAND_IN, '--'];
    }
  });
  after(() => server?.close()); // not started when the suite is skipped
  beforeEach(() => {
    server.reset();
    temp = tempDir();
  });
  afterEach(() => temp.cleanup());

  /** Starts `llama2-embed ARGS` with a private cache and no mirror in its environment. */
  function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { child: ChildProcess; finished: Promise<Finished> } {
    const env: NodeJS.ProcessEnv = { ...process.env, LLAMA2_EMBED_CACHE: join(temp.dir, 'cache') };
    delete env.LLAMA2_EMBED_MIRROR;
    delete env.LLAMA2_EMBED_MODELS;
    Object.assign(env, extraEnv);
    const child = spawn(process.execPath, [...entry, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const finished = new Promise<Finished>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
    return { child, finished };
  }

  const run = (args: string[]): Promise<Finished> => start(args).finished;
  const runWith = (args: string[], env: NodeJS.ProcessEnv): Promise<Finished> => start(args, env).finished;
  const pullArgs = (...more: string[]): string[] => ['pull', 'stories260K', '--mirror', server.url, '--dir', temp.dir, ...more];

  it('pull stories260K --mirror URL --dir DIR downloads both files, with a progress bar', async () => {
    const { code, stdout, stderr } = await run(pullArgs());
    expect(stderr).to.not.match(/\n\s+at /);
    expect(code, stderr).to.equal(0);
    expect(readFileSync(join(temp.dir, 'stories260K.bin')).equals(readFileSync(modelPath('stories260K.bin')))).to.equal(true);
    expect(readFileSync(join(temp.dir, 'tok512.bin')).equals(readFileSync(modelPath('tok512.bin')))).to.equal(true);
    expect(stderr).to.include(`stories260K.bin: downloading ${server.url}/stories260K.bin`);
    expect(stderr).to.include('stories260K.bin: 100% 1.0 MiB / 1.0 MiB');
    expect(stdout).to.include(`stories260K is ready in ${temp.dir}`);
    expect(stdout).to.include(`-m ${join(temp.dir, 'stories260K.bin')} -z ${join(temp.dir, 'tok512.bin')}`);
    expect(stdout).to.include(`set LLAMA2_EMBED_MODELS=${temp.dir}`);

    const again = await run(pullArgs('--quiet'));
    expect(again.code).to.equal(0);
    expect(again.stderr).to.include('stories260K.bin: already downloaded');
    expect(again.stdout).to.match(/stories260K\.bin\s+1\.0 MiB\s+already downloaded/);
  });

  it('pull without --dir fills the model cache, and the model is then found by name', async () => {
    // --force: without it pull keeps the copy the lookup finds in ../shared/models (tested below)
    const { code, stdout } = await run(['pull', 'stories260K', '--mirror', server.url, '-q', '--force']);
    expect(code).to.equal(0);
    expect(existsSync(join(temp.dir, 'cache', 'stories260K.bin'))).to.equal(true);
    expect(stdout).to.include('-m stories260K.bin -z tok512.bin');
  });

  it('pull without --dir does not download again what the model lookup already finds elsewhere', async () => {
    await run(pullArgs('-q'));
    server.reset();
    const env = { LLAMA2_EMBED_MODELS: temp.dir };
    const { code, stdout, stderr } = await runWith(['pull', 'stories260K', '--mirror', server.url, '-q'], env);
    expect(code, stderr).to.equal(0);
    expect(server.requests).to.have.length(0);
    expect(existsSync(join(temp.dir, 'cache', 'stories260K.bin'))).to.equal(false);
    expect(stderr).to.include(`stories260K.bin: already here (${join(temp.dir, 'stories260K.bin')}, where the model lookup finds it)`);
    expect(stdout).to.match(/stories260K\.bin\s+1\.0 MiB\s+already here/);
    expect(stdout).to.include('-m stories260K.bin -z tok512.bin');
  });

  it('pull --list shows the known models and which files are here', async () => {
    await run(pullArgs('-q'));
    const { code, stdout } = await run(['pull', '--list', '--dir', temp.dir]);
    expect(code).to.equal(0);
    expect(stdout).to.match(new RegExp(`stories260K\\s+stories260K\\.bin\\s+1\\.0 MiB\\s+${join(temp.dir, 'stories260K.bin')}`));
    expect(stdout).to.match(/stories110M\s+stories110M\.bin\s+\?\s+not downloaded/);
    expect(stdout).to.include(`llama2-embed pull NAME downloads into ${temp.dir}`);
  });

  it('an unknown model is a clear error listing the known ones, without a stack trace', async () => {
    const { code, stderr } = await run(['pull', 'stories1B', '--dir', temp.dir]);
    expect(code).to.equal(1);
    expect(stderr).to.match(/^llama2-embed: "stories1B" is not a model llama2-embed can download/);
    expect(stderr).to.include('stories15M');
    expect(stderr).to.not.match(/\n\s+at /);
  });

  it('no model name is a usage error', async () => {
    const { code, stderr } = await run(['pull', '--dir', temp.dir]);
    expect(code).to.equal(2);
    expect(stderr).to.include('Name the model to download');
  });

  it('a 404 from the mirror is a clear error', async () => {
    const { code, stderr } = await run(['pull', 'stories42M', '--mirror', server.url, '--dir', temp.dir, '-q']);
    expect(code).to.equal(1);
    expect(stderr).to.include(`llama2-embed: ${server.url}/stories42M.bin: HTTP 404 Not Found`);
    expect(stderr).to.include('https://huggingface.co/karpathy/tinyllamas/resolve/main/stories42M.bin');
  });

  it('--timeout gives up on a stalled server and keeps the part; the next run resumes it', async () => {
    server.nextTime('/stories260K.bin', { kind: 'stall', afterBytes: 200_000 });
    const stalled = await run(pullArgs('--timeout', '0.3', '-q'));
    expect(stalled.code).to.equal(1);
    expect(stalled.stderr).to.include('no data for 300 ms, giving up');
    const kept = statSync(partPathFor(join(temp.dir, 'stories260K.bin'))).size;
    expect(kept).to.be.greaterThan(0);

    const resumed = await run(pullArgs('-q'));
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.include('stories260K.bin: resuming at');
    expect(server.requests[1].range).to.equal(`bytes=${kept}-`);
    expect(resumed.stdout).to.include('downloaded (resumed at');
  });

  it('Ctrl+C stops the download, keeps the part and exits with 130', async () => {
    server.nextTime('/stories260K.bin', { kind: 'stall', afterBytes: 100_000 });
    const { child, finished } = start(pullArgs('-q'));
    const part = partPathFor(join(temp.dir, 'stories260K.bin'));
    for (let waited = 0; !(existsSync(part) && statSync(part).size > 0); waited += 20) {
      if (waited > 10_000) throw new Error('the download never started');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGINT');
    const { code, stderr } = await finished;
    expect(code).to.equal(130);
    expect(stderr).to.include('stories260K.bin: download interrupted.');
    expect(stderr).to.include('run the same command again to resume');
    expect(statSync(part).size).to.be.greaterThan(0);
    expect(existsSync(join(temp.dir, 'stories260K.bin'))).to.equal(false);
  });
});
