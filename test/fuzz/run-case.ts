/**
 * Runs one fuzz case: the real command line (`node bin/llama2-embed.js …`) as a child process in
 * its own process group, in a fresh temporary directory, under a time limit, then classifies
 * the run and counts the user data it lost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import type { CaseRun, Category, FuzzCase, Outcome, RunResult } from './case.js';
import type { Fixtures } from './fixtures.js';
import { lostBytes, snapshot } from './snapshot.js';

/** Time limit of a run that does not compile C. */
export const RUN_TIMEOUT_MS = 20_000;
/** Time limit of a build. */
export const BUILD_TIMEOUT_MS = 90_000;
const KEEP_OUTPUT = 64 * 1024;

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

const OUTPUT_OPTIONS = new Set(['-o', '--out', '--output', '--json']);

/** Refuses a command line that could write to a real device (`-o /dev/null` as root replaces /dev/null). */
function checkSafe(args: readonly string[]): void {
  args.forEach((a, i) => {
    if (a.startsWith('/dev/') && i > 0 && OUTPUT_OPTIONS.has(args[i - 1]))
      throw new Error(`fuzz: refusing to run with ${args[i - 1]} ${a}`);
  });
}

/** Runs the CLI with `run.args` in `dir`; kills its process group on time-out or at the case's kill point. */
function execute(dir: string, run: CaseRun, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<RunResult> {
  checkSafe(run.args);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'llama2-embed.js'), ...run.args], {
      cwd: dir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '' };
    let hung = false;
    let killed = false;
    let exited = false;
    const timers: NodeJS.Timeout[] = [];
    const killAt = (ms: number) => timers.push(setTimeout(() => ((killed = !exited), killGroup(child.pid)), ms));
    if (run.kill && !run.kill.afterStderr && !run.kill.afterNewFile) killAt(run.kill.delayMs);
    if (run.kill?.afterNewFile) {
      // the first file the command creates (a temporary file, say), looked for every millisecond
      const old = new Set(readdirSync(dir));
      const poll = setInterval(() => {
        if (readdirSync(dir).some((n) => !old.has(n))) {
          clearInterval(poll);
          killAt(run.kill!.delayMs);
        }
      }, 1);
      timers.push(poll);
    }
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      if (out.stdout.length < KEEP_OUTPUT) out.stdout += t;
    });
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      const had = out.stderr;
      if (out.stderr.length < KEEP_OUTPUT) out.stderr += t;
      const trigger = run.kill?.afterStderr;
      if (trigger && !trigger.test(had) && trigger.test(out.stderr)) killAt(run.kill!.delayMs);
    });
    timers.push(setTimeout(() => ((hung = !exited), killGroup(child.pid)), timeoutMs));
    child.on('close', (code, signal) => {
      exited = true;
      timers.forEach((t) => clearTimeout(t));
      killGroup(child.pid); // whatever it started and left behind
      resolve({ code: code ?? undefined, signal: signal ?? undefined, ...out, hung, killed });
    });
  });
}

const firstLine = (text: string) => text.split('\n').find((l) => l.trim()) ?? '';
/** The user-facing message: the first line that starts with `llama2-embed: `. */
const errorLine = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('llama2-embed: ')) ?? firstLine(stderr);

function classify(c: FuzzCase, run: CaseRun, dir: string, r: RunResult): { category: Category; detail: string } {
  if (r.hung) return { category: 'hang', detail: `no exit within the time limit; stderr: ${firstLine(r.stderr).slice(0, 200)}` };
  const internal =
    r.code === 70 || r.signal !== undefined || /internal error/i.test(r.stderr) || /^\s+at /m.test(r.stderr) || (r.code ?? 0) > 128;
  if (internal && !r.killed)
    return { category: 'internal error', detail: `exit ${r.code ?? r.signal}: ${errorLine(r.stderr).slice(0, 300)}` };
  const sideEffect = run.checkAlways?.(dir, r);
  if (sideEffect) return { category: 'silent wrong', detail: sideEffect };
  if (r.killed) return { category: 'ok', detail: 'killed' };
  if (r.code === 0) {
    if (c.expect === 'fail')
      return { category: 'silent wrong', detail: `exit 0 for a bad input; stdout: ${firstLine(r.stdout).slice(0, 120)}` };
    const wrong = run.checkSuccess?.(dir, r);
    if (wrong) return { category: 'silent wrong', detail: wrong };
    return { category: 'ok', detail: 'exit 0' };
  }
  if (!/^llama2-embed: /m.test(r.stderr)) {
    return {
      category: 'internal error',
      detail: `exit ${r.code} without a "llama2-embed: " message: ${firstLine(r.stderr).slice(0, 200)}`,
    };
  }
  const message = errorLine(r.stderr).slice(0, 300);
  if (c.expect === 'succeed') return { category: 'refused good input', detail: message };
  return { category: 'clear error', detail: message };
}

/** Runs one case and removes its directory (kept when `LLAMA2_EMBED_FUZZ_KEEP` is set, for a look). */
export async function runCase(c: FuzzCase, fx: Fixtures): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-fuzz-'));
  const start = performance.now();
  try {
    const run = await c.setup(dir, fx);
    const before = snapshot(dir);
    const timeout = run.timeoutMs ?? (c.cost === 'build' ? BUILD_TIMEOUT_MS : RUN_TIMEOUT_MS);
    const result = await execute(dir, run, timeout, fx.env);
    const after = snapshot(dir);
    const { category, detail: what } = classify(c, run, dir, result);
    let detail = what;
    let lost: number;
    if (run.kill && !result.hung) {
      const judged = run.kill.judge(dir, before, after);
      lost = judged.lost;
      if (judged.problem) detail = `${detail}; ${judged.problem}`;
    } else {
      const loss = lostBytes(before, after, result.code === 0 ? (run.outputs ?? []) : []);
      lost = loss.bytes;
      if (loss.bytes) detail = `${detail}; lost ${loss.files.join(', ')}`;
    }
    return { name: c.name, group: c.group, category, lostBytes: lost, detail, ms: performance.now() - start };
  } finally {
    if (!process.env.LLAMA2_EMBED_FUZZ_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `cases` with at most `parallel` at a time, calling `onDone` as each ends. */
export async function runCases(
  cases: readonly FuzzCase[],
  fx: Fixtures,
  parallel: number,
  onDone?: (o: Outcome) => void,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      outcomes[i] = await runCase(cases[i], fx);
      onDone?.(outcomes[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return outcomes;
}
