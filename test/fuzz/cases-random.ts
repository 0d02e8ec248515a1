/**
 * Random damage drawn by fast-check from a fixed seed (so every run tries the same cases, and a
 * case's name says exactly what it did): bytes of a header or a tensor table overwritten, bytes of
 * the tokenizer overwritten, and random command lines built from real and bogus options. Whether
 * such an input is bad cannot be known in general, so these cases only demand no internal error,
 * no hang and no lost data.
 */
import fc from 'fast-check';
import type { FuzzCase } from './case.js';
import type { Command } from './commands.js';
import { commandArgs, fixtureBytes, put, putGoodInputs } from './commands.js';

/** The seed of every random draw of the fuzz. */
export const FUZZ_SEED = 20261206;

const hex = (n: number) => n.toString(16).padStart(2, '0');

function overwritten(bytes: Uint8Array, offset: number, values: number[]): Uint8Array {
  const out = new Uint8Array(bytes);
  values.forEach((v, i) => (out[offset + i] = v));
  return out;
}

/** `count` checkpoints with 1–4 bytes of the header (or own-format table) overwritten, each read by inspect or generate. */
export function randomHeaderCases(count: number): FuzzCase[] {
  const arb = fc.record({
    base: fc.constantFrom('v0', 'v1', 'v2', 'own') as fc.Arbitrary<'v0' | 'v1' | 'v2' | 'own'>,
    offset: fc.nat(1100),
    values: fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }),
    command: fc.constantFrom('inspect', 'generate', 'quantize') as fc.Arbitrary<Command>,
  });
  return fc.sample(arb, { seed: FUZZ_SEED, numRuns: count }).map(({ base, offset, values, command }) => {
    // v0's header is 28 bytes and v1/v2's 41 (the rest is zeros); own's table runs on to byte 2624
    const at = base === 'v0' ? offset % 28 : base === 'own' ? offset : offset % 41;
    return {
      name: `random/checkpoint/${base}@${at}=${values.map(hex).join('')}/${command}`,
      group: 'random',
      expect: 'either',
      cost: 'cheap',
      setup(dir, fx) {
        putGoodInputs(dir, fx);
        put(dir, 'model.bin', overwritten(fixtureBytes(fx[base]), at, values));
        return { args: commandArgs(command, './model.bin', './tok.bin') };
      },
    } satisfies FuzzCase;
  });
}

/** `count` tokenizers with 1–4 bytes overwritten (anywhere in tok512.bin's 6,224 bytes), encoding a prompt. */
export function randomTokenizerCases(count: number): FuzzCase[] {
  const arb = fc.record({ offset: fc.nat(6219), values: fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }) });
  return fc.sample(arb, { seed: FUZZ_SEED + 1, numRuns: count }).map(
    ({ offset, values }) =>
      ({
        name: `random/tokenizer@${offset}=${values.map(hex).join('')}/generate`,
        group: 'random',
        expect: 'either',
        cost: 'cheap',
        setup(dir, fx) {
          putGoodInputs(dir, fx);
          put(dir, 'tok.bin', overwritten(fixtureBytes(fx.tok512), offset, values));
          return {
            args: ['generate', '-m', './model.bin', '-z', './tok.bin', '-s', '1', '-t', '0', '-n', '24', '-i', 'Once upon a time, a dog'],
          };
        },
      }) satisfies FuzzCase,
  );
}

const OPTION_POOL = [
  '-n',
  '--steps',
  '-t',
  '-p',
  '-s',
  '-i',
  '--group-size',
  '--weights',
  '--format',
  '--quant',
  '--seq-len',
  '--threads',
  '--target',
  '--arithmetic',
  '--json',
  '--no-check-finite',
  '--bogus',
  '-m',
  '-z',
  '-o',
  '--',
  '-',
];
// no device paths: `-o /dev/null` would replace the real /dev/null (the path cases use a device of their own)
const VALUE_POOL = [
  '',
  '0',
  '-1',
  '1',
  '2',
  '3.5',
  'abc',
  'NaN',
  'Infinity',
  '1e309',
  '4294967296',
  '-4294967297',
  '0x10',
  ' 2',
  'q8_0',
  'q4_0',
  'f32',
  'rp2040',
  'host',
  'ids',
  'jsonl',
  'integer',
  './model.bin',
  './tok.bin',
  'out.bin',
  '--',
  'é',
];

/** `count` command lines: a good generate, plan or quantize with 1–5 random options and values after it. */
export function randomArgvCases(count: number): FuzzCase[] {
  const arb = fc.record({
    command: fc.constantFrom('generate', 'plan', 'quantize') as fc.Arbitrary<Command>,
    extra: fc.array(fc.oneof(fc.constantFrom(...OPTION_POOL), fc.constantFrom(...VALUE_POOL)), { minLength: 1, maxLength: 5 }),
  });
  return fc.sample(arb, { seed: FUZZ_SEED + 2, numRuns: count }).map(
    ({ command, extra }) =>
      ({
        name: `random/argv/${command} ${JSON.stringify(extra)}`,
        group: 'random',
        expect: 'either',
        cost: 'cheap',
        setup(dir, fx) {
          putGoodInputs(dir, fx);
          return { args: [...commandArgs(command, './model.bin', './tok.bin'), ...extra] };
        },
      }) satisfies FuzzCase,
  );
}

/** Every random case, `count` of each kind. */
export function randomCases(count: number): FuzzCase[] {
  return [...randomHeaderCases(count), ...randomTokenizerCases(count), ...randomArgvCases(count)];
}
