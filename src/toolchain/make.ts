/**
 * Compiling a generated C project: runs `make` in its directory, shows each step as it happens,
 * and turns a failure into an error that shows the compiler's messages and where the generated
 * files are.
 */
import { spawn, spawnSync } from 'node:child_process';
import { UserError } from '../util/errors.js';

export interface MakeOptions {
  /** Called with a short line per step ("compiling forward.c"). */
  onStep?: (line: string) => void;
  jobs?: number;
  /** What to make (default: the Makefile's first target, the program). */
  targets?: string[];
}

/** Checks that a program runs (`--version`), for a clear message when a toolchain is missing. */
export function requireTool(command: string, why: string, install: string): void {
  const probe = spawnSync(command, ['--version'], { stdio: 'ignore' });
  if (probe.error) throw new UserError(`${command} was not found; it is needed ${why}. Install it: ${install}`);
}

/** The step a line of make's output is ("compiling forward.c", "linking"), or undefined for the others. */
export function makeStep(line: string): string | undefined {
  const compiled = /-c -o (\S+\.o) (\S+)$/.exec(line);
  if (compiled) return `compiling ${compiled[2]}`;
  if (/ -o (llama2|firmware\.elf) /.test(line)) return 'linking';
  if (/objcopy -O binary/.test(line)) return 'writing the flat image';
  return undefined;
}

/**
 * Runs `make -C dir -jN` (2 jobs unless told), reporting each compile and link through `onStep`. Throws a
 * UserError when make is missing or fails, with the last 40 lines the compiler said.
 */
export async function runMake(dir: string, options: MakeOptions = {}): Promise<void> {
  requireTool(
    'make',
    'to build the generated C project',
    'apt-get install build-essential (Debian/Ubuntu), xcode-select --install (macOS)',
  );
  const jobs = options.jobs ?? 2;
  const child = spawn('make', ['-C', dir, `-j${jobs}`, ...(options.targets ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const onLine = (line: string) => {
    output.push(line);
    const step = makeStep(line);
    if (step) options.onStep?.(step);
  };
  let pending = '';
  const feed = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (pending) onLine(pending);
  if (code !== 0) {
    const messages = output.filter((l) => !l.startsWith('make'));
    throw new UserError(
      `compiling the generated C project failed (make exited with ${code}).\n` +
        `The generated files are in ${dir}; the compiler said:\n${messages.slice(-40).join('\n')}`,
    );
  }
}
