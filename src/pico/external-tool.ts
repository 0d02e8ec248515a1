/**
 * Running a flashing tool someone else wrote (picotool, openocd): finding it on the PATH, and
 * running it with its output passed on line by line as it comes.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The full path of `name` on env.PATH (with PATHEXT's extensions on Windows), if it is there. */
export function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : delimiter).filter((d) => d.length > 0);
  const extensions = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean)] : [''];
  for (const dir of dirs) {
    for (const ext of extensions) {
      const candidate = join(dir, name + ext);
      try {
        if (!statSync(candidate).isFile()) continue;
        if (platform !== 'win32') accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}

export interface ToolRun {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything it printed (stdout and stderr, interleaved as received). */
  output: string;
}

/**
 * Splits a stream into lines for `report`. Progress bars redraw with \r: of the pieces between
 * \r, only the last one of each line is passed on, so a bar shows once, at its final state.
 */
class LineSplitter {
  private pending = '';
  constructor(private readonly emit: (line: string) => void) {}

  push(text: string): void {
    this.pending += text;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.line(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
  }

  end(): void {
    if (this.pending.length > 0) this.line(this.pending);
    this.pending = '';
  }

  private line(raw: string): void {
    const pieces = raw.replace(/\r$/, '').split('\r');
    const line = pieces[pieces.length - 1].trimEnd();
    if (line.length > 0) this.emit(line);
  }
}

/** Runs `exe args`, passing each line it prints to `report` (prefixed with `prefix`). */
export function runTool(
  exe: string,
  args: string[],
  options: { report: (line: string) => void; prefix?: string; env?: NodeJS.ProcessEnv },
): Promise<ToolRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    let output = '';
    const prefix = options.prefix ?? '';
    const splitters = [child.stdout, child.stderr].map((stream) => {
      const splitter = new LineSplitter((line) => options.report(`${prefix}${line}`));
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => {
        output += text;
        splitter.push(text);
      });
      return splitter;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const s of splitters) s.end();
      resolvePromise({ code, signal, output });
    });
  });
}
