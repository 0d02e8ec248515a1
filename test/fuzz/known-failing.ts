/**
 * The fuzz cases that fail today, each with the sentence of the issue it falls under. `npm test`
 * fails when a case that is not listed here fails, and reports (without failing) a listed case
 * that now passes: remove it from the list then. A name ending in `*` covers every case whose name
 * starts with what comes before it.
 */

/** A known failure: a case name (or a prefix followed by `*`) and the issue's words for it. */
export interface KnownFailure {
  pattern: string;
  issue: string;
}

// the issue's words
const TOKENIZERS = 'damaged tokenizers (truncated, piece lengths past the end, empty pieces, no " " piece, piece count not matching the model)';
const TWICE = 'CLI cases: options given twice';
const WRONG_TYPES = 'CLI cases: wrong types like `-n ""` / `-n abc` / `--group-size 4294967296`';
const OUT_OF_RANGE = 'CLI cases: out-of-range values';
const WRAPPED = 'silent wrong: a wrapped value written';
const PROMPT_CUT = 'silent wrong: a prompt cut without a word';
const OUTPUT_IS_INPUT = 'path cases: output = input';
const FILE_FOR_DIR = 'path cases: output is an existing directory / file where a directory is expected';
const FIFO = 'path cases: FIFOs and /dev/zero as inputs (each CLI run under a timeout so a hang is detected, classified and killed)';
const DEV_NULL = 'path cases: /dev/null as output';
const KILL = 'SIGKILLs during writes: build into an existing good build dir (afterwards the old dir must be intact or the new one complete and valid)';

export const KNOWN_FAILING: readonly KnownFailure[] = [
  { pattern: 'tokenizer/all-pieces-empty/plan', issue: TOKENIZERS },
  { pattern: 'tokenizer/no-space-piece/plan', issue: TOKENIZERS },
  { pattern: 'tokenizer/no-space-piece/build', issue: TOKENIZERS },
  { pattern: 'cli/generate/model-twice', issue: TWICE },
  { pattern: 'cli/generate/temperature-twice', issue: TWICE },
  { pattern: 'cli/generate/prompt-twice', issue: TWICE },
  { pattern: 'cli/quantize/quant-twice', issue: TWICE },
  { pattern: 'cli/build/output-twice', issue: TWICE },
  { pattern: 'cli/generate/steps-empty', issue: WRONG_TYPES },
  { pattern: 'cli/generate/seed-*', issue: WRONG_TYPES },
  { pattern: 'cli/report/quant-bogus', issue: WRONG_TYPES },
  { pattern: 'cli/report/quant-empty', issue: WRONG_TYPES },
  { pattern: 'cli/generate/group-size-2^32', issue: WRAPPED },
  { pattern: 'cli/quantize/group-size-2^32', issue: WRAPPED },
  { pattern: 'cli/quantize/group-size-2^31', issue: WRAPPED },
  { pattern: 'cli/plan/group-size-2^32', issue: WRAPPED },
  { pattern: 'cli/build/group-size-2^32', issue: WRAPPED },
  { pattern: 'cli/plan/threads-*', issue: OUT_OF_RANGE },
  { pattern: 'cli/plan/rp2040-threads-3', issue: OUT_OF_RANGE },
  { pattern: 'cli/generate/prompt-longer-than-steps', issue: PROMPT_CUT },
  { pattern: 'cli/generate/prompt-longer-than-context', issue: PROMPT_CUT },
  { pattern: 'path/quantize-output-is-input', issue: OUTPUT_IS_INPUT },
  { pattern: 'path/quantize-output-is-input-spelled-differently', issue: OUTPUT_IS_INPUT },
  { pattern: 'path/report-json-is-input', issue: OUTPUT_IS_INPUT },
  { pattern: 'path/report-html-is-tokenizer', issue: OUTPUT_IS_INPUT },
  { pattern: 'path/build-output-is-a-file', issue: FILE_FOR_DIR },
  { pattern: 'path/char-device-as-output-dir/build', issue: FILE_FOR_DIR },
  { pattern: 'path/fifo-as-*', issue: FIFO },
  { pattern: 'path/dev-zero-as-tokenizer/*', issue: FIFO },
  { pattern: 'path/dev-zero-as-eval-text/report', issue: FIFO },
  { pattern: 'path/char-device-as-output/*', issue: DEV_NULL },
  // when the kill lands in the window a non-atomic build leaves half-written: which points do depends on the machine's speed
  { pattern: 'kill/build-over-existing/*', issue: KILL },
];

/** Whether `name` is covered by `pattern`. */
export function matches(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** The known failure that covers `name`, if any. */
export function knownFailure(name: string, list: readonly KnownFailure[] = KNOWN_FAILING): KnownFailure | undefined {
  return list.find((k) => matches(name, k.pattern));
}
