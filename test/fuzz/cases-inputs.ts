/**
 * Damaged checkpoints and tokenizers, each handed to the commands that read it: a bad header
 * field, a truncated file, NaN weights, a wrong version, our own format's table damaged; a
 * tokenizer truncated, with pieces past its end, empty pieces, no " " piece, fewer tokens than the
 * model. Every certainly-bad file must be refused with a clear error.
 */
import type { CaseRun, Expectation, FuzzCase } from './case.js';
import type { Command } from './commands.js';
import { commandArgs, fixtureBytes, put, putGoodInputs, quantizeOutputReads } from './commands.js';
import type { Damage } from './damage.js';
import {
  headerDamages,
  ownDamages,
  splitVocab,
  tokenOffset,
  trailingBytes,
  truncated,
  truncations,
  v2Damages,
  versionDamages,
  weightDamages,
  withInt32,
  withFloat32,
} from './damage.js';
import type { Fixtures } from './fixtures.js';
import { serializeVocab } from '../../src/tokenizer/vocab-file.js';

type Base = 'v0' | 'v1' | 'v2' | 'own';

function checkpointCase(base: Base, damage: Damage, command: Command): FuzzCase {
  return {
    name: `checkpoint/${base}/${damage.name}/${command}`,
    group: 'checkpoint',
    expect: damage.expect,
    cost: command === 'build' ? 'build' : 'cheap',
    setup(dir, fx): CaseRun {
      putGoodInputs(dir, fx);
      put(dir, 'model.bin', damage.apply(fixtureBytes(fx[base])));
      return {
        args: commandArgs(command, './model.bin', './tok.bin'),
        checkSuccess: command === 'quantize' ? quantizeOutputReads : undefined,
      };
    },
  };
}

function cross(bases: Base[], damages: Damage[], commands: Command[]): FuzzCase[] {
  return bases.flatMap((b) => damages.flatMap((d) => commands.map((c) => checkpointCase(b, d, c))));
}

/** The last damage of each header field (the most extreme), for the slower commands. */
function onePerField(damages: Damage[]): Damage[] {
  const last = new Map<string, Damage>();
  for (const d of damages) last.set(d.name.split('-')[0], d);
  return [...last.values()];
}

/** Every damaged-checkpoint case. */
export function checkpointCases(): FuzzCase[] {
  const v0Header = headerDamages('v0');
  const versionedHeader = headerDamages('versioned');
  const named = (damages: Damage[], ...names: string[]) => damages.filter((d) => names.includes(d.name));
  // Every value of every field with inspect; the other commands share its reader, so for them one
  // value per field (and one format) tells whether they check the file at all.
  return [
    ...cross(['v0'], v0Header, ['inspect']),
    ...cross(['v0'], onePerField(v0Header), ['generate', 'quantize', 'plan', 'report', 'build']),
    ...cross(['v1'], versionedHeader, ['inspect']),
    ...cross(['v1'], onePerField(versionedHeader), ['generate']),
    ...cross(['own'], onePerField(versionedHeader), ['inspect']),
    ...cross(['v0', 'v1', 'v2', 'own'], truncations(), ['inspect']),
    ...cross(['v0'], named(truncations(), 'truncated-to-27', 'truncated-to-half', 'truncated-by-1'), [
      'generate',
      'quantize',
      'plan',
      'report',
    ]),
    ...cross(['v0'], named(truncations(), 'truncated-by-1'), ['build']),
    ...cross(['v0', 'v1'], trailingBytes(), ['inspect']),
    ...cross(['v0'], trailingBytes(), ['generate']),
    ...cross(['v0'], weightDamages(28), ['inspect', 'generate', 'quantize', 'report']),
    ...cross(['v1'], weightDamages(256), ['inspect', 'generate']),
    ...cross(['v0'], named(weightDamages(28), 'nan-in-layer'), ['build']),
    ...cross(['v1'], versionDamages(), ['inspect', 'generate']),
    ...cross(['v2'], v2Damages(), ['inspect', 'generate']),
    ...cross(['own'], ownDamages(), ['inspect']),
    ...cross(['own'], ownDamages().slice(7, 12), ['generate', 'quantize']),
  ];
}

/** A tokenizer damage: the bytes of the tokenizer (from tok512.bin's) and, optionally, another model. */
interface TokenizerDamage {
  name: string;
  expect: Expectation;
  tokenizer(tok512: Uint8Array, fx: Fixtures): Uint8Array;
  /** The model, when not stories260K. */
  model?(fx: Fixtures): string;
}

function editVocab(edit: (v: ReturnType<typeof splitVocab>) => void): (tok: Uint8Array) => Uint8Array {
  return (tok) => {
    const v = splitVocab(tok, 512);
    edit(v);
    return serializeVocab(v.pieces, v.scores, v.maxTokenLength);
  };
}

const ascii = (s: string) => new TextEncoder().encode(s);

/** stories260K's tokenizer damaged in the ways the issue names. */
export function tokenizerDamages(): TokenizerDamage[] {
  const cut = (name: string, length: (n: number) => number): TokenizerDamage => ({
    name: `truncated-${name}`,
    expect: 'fail',
    tokenizer: (t) => truncated(t, length(t.length)),
  });
  const lengthOf = (id: number, value: (old: number) => number) => (t: Uint8Array) => {
    const at = tokenOffset(t, id) + 4;
    return withInt32(t, at, value(new DataView(t.buffer, t.byteOffset).getInt32(at, true)));
  };
  return [
    cut('to-0', () => 0),
    cut('to-2', () => 2),
    cut('to-4', () => 4),
    cut('to-100', () => 100),
    cut('to-half', (n) => Math.floor(n / 2)),
    cut('by-1', (n) => n - 1),
    { name: 'max_token_length-0', expect: 'fail', tokenizer: (t) => withInt32(t, 0, 0) },
    { name: 'max_token_length-negative', expect: 'fail', tokenizer: (t) => withInt32(t, 0, -1) },
    { name: 'max_token_length-huge', expect: 'fail', tokenizer: (t) => withInt32(t, 0, 2 ** 31 - 1) },
    { name: 'max_token_length-1', expect: 'fail', tokenizer: (t) => withInt32(t, 0, 1) },
    { name: 'piece-length-past-end', expect: 'fail', tokenizer: lengthOf(500, () => 1_000_000) },
    { name: 'piece-length-negative', expect: 'fail', tokenizer: lengthOf(100, () => -5) },
    { name: 'last-piece-length-plus-10', expect: 'fail', tokenizer: lengthOf(511, (n) => n + 10) },
    { name: 'one-empty-piece', expect: 'either', tokenizer: editVocab((v) => (v.pieces[300] = new Uint8Array(0))) },
    { name: 'all-pieces-empty', expect: 'fail', tokenizer: editVocab((v) => v.pieces.fill(new Uint8Array(0))) },
    // id 410 is " ": the encoder starts every prompt with it (llama2.c's dummy prefix)
    { name: 'no-space-piece', expect: 'fail', tokenizer: editVocab((v) => (v.pieces[410] = ascii('~~'))) },
    { name: 'score-nan', expect: 'either', tokenizer: (t) => withFloat32(t, tokenOffset(t, 300), NaN) },
    { name: 'fewer-tokens-than-vocab', expect: 'fail', tokenizer: (t) => truncated(t, tokenOffset(t, 511)) },
    { name: 'llama2-tokenizer-for-260K', expect: 'either', tokenizer: (_t, fx) => fixtureBytes(fx.tok32k) },
    { name: 'tok512-for-vocab-32000', expect: 'fail', tokenizer: (t) => t, model: (fx) => fx.vocab32k },
  ];
}

function tokenizerCase(damage: TokenizerDamage, command: Command): FuzzCase {
  return {
    name: `tokenizer/${damage.name}/${command}`,
    group: 'tokenizer',
    expect: damage.expect,
    cost: command === 'build' ? 'build' : 'cheap',
    setup(dir, fx): CaseRun {
      putGoodInputs(dir, fx);
      if (damage.model) put(dir, 'model.bin', fixtureBytes(damage.model(fx)));
      put(dir, 'tok.bin', damage.tokenizer(fixtureBytes(fx.tok512), fx));
      let args = commandArgs(command, './model.bin', './tok.bin');
      // a prompt, so that the encoder runs too
      if (command === 'generate')
        args = [...args.filter((a, i) => a !== '-n' && args[i - 1] !== '-n'), '-n', '24', '-i', 'Once upon a time'];
      return { args };
    },
  };
}

/** Every damaged-tokenizer case: with generate (and a prompt) and plan; a few with report and build. */
export function tokenizerCases(): FuzzCase[] {
  const few = new Set(['truncated-by-1', 'piece-length-past-end', 'no-space-piece', 'fewer-tokens-than-vocab']);
  return tokenizerDamages().flatMap((d) => [
    ...(['generate', 'plan'] as const).map((c) => tokenizerCase(d, c)),
    ...(few.has(d.name) ? [tokenizerCase(d, 'report'), tokenizerCase(d, 'build')] : []),
  ]);
}
