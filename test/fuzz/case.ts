/**
 * What a fuzz case is: a command line run in a temporary directory that the case fills with its
 * files first, what it must do (fail on a bad input, succeed on a good one, or either), and the
 * checks that find a wrong result behind an exit code of 0.
 */
import type { Fixtures } from './fixtures.js';
import type { Snapshot } from './snapshot.js';

/** What a case demands: `fail` for a bad input (exit 0 is a silent wrong result), `succeed` for a good one. */
export type Expectation = 'fail' | 'succeed' | 'either';

/** The families of cases, as the table groups them. */
export type CaseGroup = 'checkpoint' | 'tokenizer' | 'cli' | 'path' | 'kill' | 'random';

/** The end of one run, as the command left it. */
export interface RunResult {
  /** Exit code, or undefined when a signal ended it. */
  code: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** The time limit was hit (the process group was then killed). */
  hung: boolean;
  /** The case's own SIGKILL was sent before the command ended. */
  killed: boolean;
}

/** A SIGKILL in the middle of the run, and how to judge what it left. */
export interface KillPlan {
  /** Kill this long after `afterStderr` matched, or after a new file appeared in the case directory (`afterNewFile`), or after the start. */
  delayMs: number;
  afterStderr?: RegExp;
  afterNewFile?: boolean;
  /**
   * What the kill left in `dir`: the bytes of user data lost (0 when the old data is intact or the
   * new data complete and valid) and, if any, why.
   */
  judge(dir: string, before: Snapshot, after: Snapshot): { lost: number; problem?: string };
}

/** What a case's setup returns: the arguments and the checks. */
export interface CaseRun {
  args: string[];
  /** Pre-existing paths (relative to the case directory) that a successful run may replace. */
  outputs?: string[];
  timeoutMs?: number;
  /** After an exit code of 0: why the result is wrong, if it is. */
  checkSuccess?(dir: string, result: RunResult): string | undefined;
  /** After any run: a wrong side effect (a device replaced, a command injected), if any. */
  checkAlways?(dir: string, result: RunResult): string | undefined;
  kill?: KillPlan;
}

export interface FuzzCase {
  /** Unique and stable: `group/what/command`. */
  name: string;
  group: CaseGroup;
  expect: Expectation;
  /** `build` cases compile C (about 10 s); `cheap` ones take about a second. */
  cost: 'cheap' | 'build';
  /** Writes the case's files into `dir` (the working directory of the run) and says what to run. */
  setup(dir: string, fx: Fixtures): CaseRun | Promise<CaseRun>;
}

/** How a run is counted. */
export type Category = 'ok' | 'clear error' | 'refused good input' | 'internal error' | 'hang' | 'silent wrong';

export interface Outcome {
  name: string;
  group: CaseGroup;
  category: Category;
  /** Bytes of pre-existing user files changed or destroyed. */
  lostBytes: number;
  /** What happened, in a line: the reason, or the first line of the error. */
  detail: string;
  ms: number;
}

/** A run that held: no internal error, hang, silent wrong result, refusal of a good input or loss. */
export function passed(o: Outcome): boolean {
  return (o.category === 'ok' || o.category === 'clear error') && o.lostBytes === 0;
}
