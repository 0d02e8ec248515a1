/**
 * A seeded sample of the fuzz set (test/fuzz, the whole set is `npm run bench -- fuzz`): the real
 * command line on damaged checkpoints and tokenizers, bad options, odd paths and a SIGKILL during a
 * write. Fails on any internal error, hang, silent wrong result, refused good input or lost byte of
 * user data, except in the cases listed in KNOWN_FAILING (which are reported when they pass).
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FuzzCase, Outcome } from './case.js';
import { passed } from './case.js';
import { allCases, sampleCases } from './cases.js';
import { canMknod } from './cases-paths.js';
import { makeFixtures, type Fixtures } from './fixtures.js';
import { KNOWN_FAILING, knownFailure, matches } from './known-failing.js';
import { runCase, runCases } from './run-case.js';
import { lostBytes, snapshot } from './snapshot.js';
import { checkDevNull, compareWithKnown, formatFailures, formatTable } from './summary.js';

/** The build cases of the sample: one refused before compiling, one that compiles. */
const SAMPLE_BUILDS = ['checkpoint/v0/truncated-by-1/build', 'path/hostile-model-name/build'];

describe('fuzz (a seeded sample; npm run bench -- fuzz for all)', function () {
  this.timeout(300_000);
  let fx: Fixtures;
  let devices = false;
  before(() => {
    fx = makeFixtures();
    devices = canMknod(fx.dir);
  });
  after(() => fx.cleanup());

  describe('the harness', () => {
    it('counts the bytes of changed and missing files, and spares the outputs a successful run may replace', () => {
      const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-fuzz-snap-'));
      try {
        writeFileSync(join(dir, 'a'), 'aaaa');
        mkdirSync(join(dir, 'd'));
        writeFileSync(join(dir, 'd', 'b'), 'bb');
        writeFileSync(join(dir, 'c'), 'c');
        symlinkSync('a', join(dir, 'link'));
        const before = snapshot(dir);
        writeFileSync(join(dir, 'a'), 'AAAA');
        rmSync(join(dir, 'd'), { recursive: true });
        expect(lostBytes(before, snapshot(dir))).to.deep.equal({ bytes: 6, files: ['a', 'd/b'] });
        expect(lostBytes(before, snapshot(dir), ['d']).bytes).to.equal(4);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('KNOWN_FAILING names only cases that exist, and an entry passes only when all its cases do', () => {
      const names = allCases({ devices: true, random: 15 }).map((c) => c.name);
      const unmatched = KNOWN_FAILING.filter((k) => !names.some((n) => matches(n, k.pattern)));
      expect(unmatched.map((k) => k.pattern)).to.deep.equal([]);
      const outcome = (name: string, category: Outcome['category']): Outcome => ({
        name,
        group: 'cli',
        category,
        lostBytes: 0,
        detail: '',
        ms: 0,
      });
      const list = [
        { pattern: 'a/*', issue: 'x' },
        { pattern: 'b', issue: 'y' },
      ];
      const { unexpected, nowPassing } = compareWithKnown(
        [outcome('a/1', 'ok'), outcome('a/2', 'hang'), outcome('b', 'clear error'), outcome('c', 'silent wrong')],
        list,
      );
      expect(unexpected.map((o) => o.name)).to.deep.equal(['c']);
      expect(nowPassing.map((k) => k.pattern)).to.deep.equal(['b']);
    });

    const probe = (name: string, expectation: FuzzCase['expect'], args: string[], timeoutMs?: number): FuzzCase => ({
      name,
      group: 'cli',
      expect: expectation,
      cost: 'cheap',
      setup: () => ({ args, timeoutMs }),
    });

    it('tells a clear error, a silent wrong result, a refused good input and an internal error apart', async () => {
      const missing = await runCase(probe('h/missing', 'fail', ['inspect', './missing.bin']), fx);
      expect(missing.category, missing.detail).to.equal('clear error');
      const accepted = await runCase(probe('h/accepted', 'fail', ['--version']), fx);
      expect(accepted.category).to.equal('silent wrong');
      const refused = await runCase(probe('h/refused', 'succeed', ['inspect', './missing.bin']), fx);
      expect(refused.category).to.equal('refused good input');
      // node itself fails to load a missing module: a stack trace, exit 1
      const crash = await runCase(probe('h/crash', 'either', ['--version']), {
        ...fx,
        env: { ...fx.env, NODE_OPTIONS: '--import=./no-such-module.mjs' },
      });
      expect(crash.category, crash.detail).to.equal('internal error');
    });

    it('kills a run that hangs and counts it as a hang', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-fuzz-hang-'));
      try {
        // a module that never settles: the CLI never starts, the time limit ends it
        writeFileSync(join(dir, 'hang.mjs'), 'setInterval(() => {}, 1000); await new Promise(() => {});\n');
        const hang = await runCase(probe('h/hang', 'either', ['--version'], 1500), {
          ...fx,
          env: { ...fx.env, NODE_OPTIONS: `--import=${join(dir, 'hang.mjs')}` },
        });
        expect(hang.category).to.equal('hang');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('the sample: no internal error, hang, silent wrong result or lost byte outside KNOWN_FAILING', async () => {
    const all = allCases({ devices, random: 15 });
    const sample = sampleCases(all, SAMPLE_BUILDS);
    const outcomes: Outcome[] = await runCases(sample, fx, 2);
    checkDevNull();
    const { unexpected, nowPassing } = compareWithKnown(outcomes, KNOWN_FAILING);
    if (nowPassing.length) {
      // not a failure: the fix landed, the list should lose these names
      process.stdout.write(
        `      in KNOWN_FAILING but passing now (remove them from the list):\n${nowPassing.map((k) => `        ${k.pattern}\n`).join('')}`,
      );
    }
    const known = outcomes.filter((o) => !passed(o) && knownFailure(o.name)).length;
    process.stdout.write(`      ${outcomes.length} cases, ${known} known failures\n${formatTable(outcomes)}\n`);
    expect(
      unexpected.map((o) => o.name),
      formatFailures(unexpected, KNOWN_FAILING),
    ).to.deep.equal([]);
  });
});
