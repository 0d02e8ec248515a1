/** Runs the real command line (bin/llama2-embed.js), as a user would. */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import { modelsEnv } from './fixtures.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {}): CliResult {
  const bin = join(projectRoot(), 'bin', 'llama2-embed.js');
  const env: NodeJS.ProcessEnv = { ...process.env, ...modelsEnv(), ...options.env };
  delete env.LLAMA2_EMBED_DEBUG;
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env,
    cwd: options.cwd,
    timeout: options.timeout ?? 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A failure meant for the user: the exit code, nothing on stdout, a message and no stack trace. */
export function expectUserError(result: CliResult, status = 1): string {
  expect(result.status, result.stderr).to.equal(status);
  expect(result.stdout).to.equal('');
  expect(result.stderr).to.match(/^llama2-embed: /m); // after any progress lines
  expect(result.stderr).to.not.match(/^\s+at /m);
  expect(result.stderr).to.not.match(/internal error/);
  return result.stderr;
}
