/**
 * The real command line as a child process that runs alongside the test (cli.ts's `cli()` waits
 * synchronously, which would stop an emulator running in the test's own event loop): output
 * collected as it comes, waits for a pattern, signals, and a bounded wait for the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import { modelsEnv } from './fixtures.js';

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (or stderr), or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (a signal: 128 + its number), or rejects after `timeoutMs` (and kills it). */
  exit(timeoutMs: number): Promise<number>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const bin = join(projectRoot(), 'bin', 'llama2-embed.js');
  const env: NodeJS.ProcessEnv = { ...process.env, ...modelsEnv(), ...options.env };
  delete env.LLAMA2_EMBED_DEBUG;
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  child.stdout!.setEncoding('utf8').on('data', (t: string) => ((out.stdout += t), wake()));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => ((out.stderr += t), wake()));
  const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? 128 + (SIGNALS[signal ?? ''] ?? 0))));
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    waitFor(pattern, timeoutMs, stream = 'stdout') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out[stream].match(pattern);
          if (!m) return;
          done();
          resolve(m);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} on ${stream} within ${timeoutMs} ms; stdout:\n${out.stdout}\nstderr:\n${out.stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    exit(timeoutMs) {
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(`llama2-embed ${args.join(' ')} did not exit within ${timeoutMs} ms; stdout:\n${out.stdout}\nstderr:\n${out.stderr}`),
          );
        }, timeoutMs);
        void exited.then((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
  };
}
