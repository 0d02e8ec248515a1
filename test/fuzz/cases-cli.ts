/**
 * Command-line mistakes with good files: unknown and misspelled options, options given twice,
 * values of the wrong type (`-n ""`, `-n abc`, `--group-size 4294967296`), values out of range,
 * options that contradict each other. A mistake must be refused with a clear error, never
 * run with a default or a wrapped value in its place.
 */
import type { CaseRun, Expectation, FuzzCase, RunResult } from './case.js';
import { putGoodInputs, quantizeOutputReads } from './commands.js';

const GENERATE = ['generate', '-m', './model.bin', '-z', './tok.bin', '-s', '1', '-t', '0'];
const QUANTIZE = ['quantize', './model.bin', '-o', 'out.bin', '-q'];
const PLAN = ['plan', '-m', './model.bin', '-z', './tok.bin'];
const REPORT = ['report', '-m', './model.bin', '-z', './tok.bin', '--quant', 'q8_0', '--sequences', '1', '--length', '4', '-q'];
const BUILD = ['build', '--target', 'host', '-m', './model.bin', '-z', './tok.bin', '-o', 'build'];

/** generate's prompt must not be cut short without a word on stderr. */
function promptNotCutSilently(_dir: string, r: RunResult): string | undefined {
  return /prompt/i.test(r.stderr) ? undefined : 'exit 0, and the prompt was longer than the steps, but stderr says nothing about it';
}

function cliCase(
  name: string,
  expect: Expectation,
  args: string[],
  extra: { cost?: 'cheap' | 'build'; checkSuccess?: CaseRun['checkSuccess'] } = {},
): FuzzCase {
  return {
    name: `cli/${name}`,
    group: 'cli',
    expect,
    cost: extra.cost ?? 'cheap',
    setup(dir, fx) {
      putGoodInputs(dir, fx);
      const checkSuccess = extra.checkSuccess ?? (args[0] === 'quantize' ? quantizeOutputReads : undefined);
      return { args, checkSuccess };
    },
  };
}

const bad = (name: string, args: string[], cost: 'cheap' | 'build' = 'cheap') => cliCase(name, 'fail', args, { cost });
const good = (name: string, args: string[]) => cliCase(name, 'succeed', args);

/** Every command-line case. */
export function cliCases(): FuzzCase[] {
  const n2 = [...GENERATE, '-n', '2'];
  const longPrompt = Array.from({ length: 400 }, () => 'Once upon a time there was a little dog.').join(' ');
  return [
    // the command itself
    bad('no-command', []),
    bad('unknown-command', ['generat']),
    good('version', ['--version']),
    good('help', ['--help']),
    good('generate-good', n2),
    good('quantize-good', QUANTIZE),
    good('plan-good', PLAN),
    good('inspect-good', ['inspect', './model.bin']),
    // unknown and misspelled options
    bad('generate/unknown-option', [...n2, '--bogus', '1']),
    bad('generate/misspelled-steps', [...GENERATE, '--step', '2']),
    bad('generate/misspelled-temperature', [...n2, '--temprature', '0.5']),
    bad('generate/misspelled-seed', [...n2, '--seeds', '3']),
    bad('quantize/misspelled-quant', [...QUANTIZE, '--qaunt', 'q4_0']),
    bad('quantize/misspelled-group-size', [...QUANTIZE, '--group-sise', '32']),
    bad('plan/misspelled-target', [...PLAN, '--targt', 'rp2040']),
    bad('inspect/unknown-option', ['inspect', './model.bin', '--bogus']),
    bad('inspect/two-models', ['inspect', './model.bin', './model.bin']),
    bad('inspect/no-model', ['inspect']),
    bad('quantize/no-output', ['quantize', './model.bin', '-q']),
    bad('generate/extra-positional', [...n2, 'extra']),
    // options given twice
    bad('generate/steps-twice', [...GENERATE, '-n', '2', '-n', '3']),
    bad('generate/model-twice', [...n2, '-m', './model.bin']),
    bad('generate/temperature-twice', [...n2, '-t', '1']),
    bad('generate/prompt-twice', [...n2, '-i', 'a', '-i', 'b']),
    bad('quantize/output-twice', [...QUANTIZE, '-o', 'other.bin']),
    bad('quantize/quant-twice', [...QUANTIZE, '--quant', 'q8_0', '--quant', 'q4_0']),
    bad('plan/target-twice', [...PLAN, '--target', 'host', '--target', 'rp2040']),
    // wrong types and out-of-range values: generate
    ...(
      [
        ['steps-empty', ['-n', '']],
        ['steps-abc', ['-n', 'abc']],
        ['steps-fraction', ['-n', '1.5']],
        ['steps-negative', ['-n', '-1']],
        ['steps-infinity', ['-n', 'Infinity']],
        ['temperature-empty', ['-n', '2', '-t', '']],
        ['temperature-abc', ['-n', '2', '-t', 'abc']],
        ['temperature-negative', ['-n', '2', '-t', '-1']],
        ['temperature-nan', ['-n', '2', '-t', 'NaN']],
        ['temperature-overflow', ['-n', '2', '-t', '1e309']],
        ['topp-2', ['-n', '2', '-p', '2']],
        ['topp-negative', ['-n', '2', '-p', '-0.1']],
        ['topp-abc', ['-n', '2', '-p', 'abc']],
        ['seed-abc', ['-n', '2', '-s', 'abc']],
        ['seed-negative', ['-n', '2', '-s', '-1']],
        ['seed-fraction', ['-n', '2', '-s', '1.5']],
        ['seed-empty', ['-n', '2', '-s', '']],
        ['seed-past-64-bits', ['-n', '2', '-s', '99999999999999999999999']],
        ['group-size-0', ['-n', '2', '--quant', 'q8_0', '--group-size', '0']],
        ['group-size-negative', ['-n', '2', '--quant', 'q8_0', '--group-size', '-1']],
        ['group-size-2^32', ['-n', '2', '--quant', 'q8_0', '--group-size', '4294967296']],
        ['group-size-fraction', ['-n', '2', '--quant', 'q8_0', '--group-size', '3.5']],
        ['group-size-abc', ['-n', '2', '--quant', 'q8_0', '--group-size', 'abc']],
        ['group-size-empty', ['-n', '2', '--quant', 'q8_0', '--group-size', '']],
        ['group-size-without-weights-2^32', ['-n', '2', '--group-size', '4294967296']],
        ['quant-bogus', ['-n', '2', '--quant', 'q5']],
        ['weights-bogus', ['-n', '2', '--weights', 'q5']],
        ['format-bogus', ['-n', '2', '--format', 'xml']],
        ['conflict-f32-with-group-size', ['-n', '2', '--quant', 'f32', '--group-size', '32']],
      ] as const
    ).map(([name, extra]) => bad(`generate/${name}`, [...GENERATE, ...extra])),
    cliCase('generate/steps-past-context', 'either', [...GENERATE, '-n', '100000']),
    cliCase('generate/prompt-longer-than-steps', 'either', [...GENERATE, '-n', '2', '-i', 'Once upon a time there was a dog'], {
      checkSuccess: promptNotCutSilently,
    }),
    cliCase('generate/prompt-longer-than-context', 'either', [...GENERATE, '-n', '0', '-i', longPrompt], {
      checkSuccess: promptNotCutSilently,
    }),
    // quantize
    ...(
      [
        ['group-size-0', ['--group-size', '0']],
        ['group-size-negative', ['--group-size', '-1']],
        ['group-size-2^32', ['--group-size', '4294967296']],
        ['group-size-2^31', ['--group-size', '2147483648']],
        ['group-size-fraction', ['--group-size', '3.5']],
        ['group-size-abc', ['--group-size', 'abc']],
        ['group-size-empty', ['--group-size', '']],
        ['quant-bogus', ['--quant', 'q5']],
        ['format-bogus', ['--format', 'gguf']],
        ['conflict-v2-q4', ['--format', 'v2', '--quant', 'q4_0']],
        ['conflict-v2-straddling-groups', ['--format', 'v2', '--quant', 'q8_0', '--group-size', '64']],
        ['output-empty', ['-o', '']],
      ] as const
    ).map(([name, extra]) => bad(`quantize/${name}`, [...QUANTIZE, ...extra])),
    cliCase('quantize/group-size-larger-than-rows', 'either', [...QUANTIZE, '--group-size', '1000']),
    // plan
    ...(
      [
        ['target-bogus', ['--target', 'nosuch']],
        ['seq-len-0', ['--seq-len', '0']],
        ['seq-len-negative', ['--seq-len', '-1']],
        ['seq-len-abc', ['--seq-len', 'abc']],
        ['seq-len-past-model', ['--seq-len', '100000']],
        ['seq-len-2^32', ['--seq-len', '4294967296']],
        ['threads-0', ['--threads', '0']],
        ['threads-negative', ['--threads', '-1']],
        ['threads-fraction', ['--threads', '1.5']],
        ['threads-abc', ['--threads', 'abc']],
        ['threads-million', ['--threads', '1000000']],
        ['group-size-2^32', ['--quant', 'q8_0', '--group-size', '4294967296']],
        ['conflict-integer-q4', ['--arithmetic', 'integer', '--quant', 'q4_0']],
        ['rp2040-flash-size-abc', ['--target', 'rp2040', '--flash-size', 'abc']],
        ['rp2040-threads-3', ['--target', 'rp2040', '--threads', '3']],
        ['quant-bogus', ['--quant', 'q5']],
      ] as const
    ).map(([name, extra]) => bad(`plan/${name}`, [...PLAN, ...extra])),
    cliCase('plan/host-with-boot2', 'either', [...PLAN, '--boot2', 'quad']),
    // report
    ...(
      [
        ['sequences-0', ['--sequences', '0']],
        ['sequences-negative', ['--sequences', '-1']],
        ['sequences-abc', ['--sequences', 'abc']],
        ['length-0', ['--length', '0']],
        ['length-negative', ['--length', '-1']],
        ['length-past-context', ['--length', '100000']],
        ['seed-abc', ['--seed', 'abc']],
        ['quant-bogus', ['--quant', 'q5']],
        ['quant-empty', ['--quant', '']],
        ['group-size-0', ['--group-size', '0']],
        ['eval-missing', ['--eval', 'missing.txt']],
      ] as const
    ).map(([name, extra]) => bad(`report/${name}`, [...REPORT, ...extra])),
    // build: each refused before compiling when checked, else it compiles (hence the build cost)
    bad('build/target-bogus', [...BUILD, '--target', 'nosuch'], 'build'),
    bad('build/seq-len-0', [...BUILD, '--seq-len', '0'], 'build'),
    bad('build/threads-0', [...BUILD, '--threads', '0'], 'build'),
    bad('build/group-size-2^32', [...BUILD, '--quant', 'q8_0', '--group-size', '4294967296'], 'build'),
    bad('build/output-twice', [...BUILD, '-o', 'build2'], 'build'),
  ];
}
