/**
 * Every command line the documentation shows is one the program accepts today (issue 15.10: the
 * docs spoke of options and outputs two builds old). Each `llama2-embed …` line of a shell block in
 * README.md and doc/*.md goes through the real parser (every check before a command runs: unknown
 * options, choices, values given twice, number values); a synopsis (`[-m MODEL]`, `--port PATH|auto`)
 * and a command quoted in the prose have each of their options checked against the command's own.
 * What a command then does with a board or a model is the business of the command's own tests.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkCommandLine, CommandLineParsed } from '../../src/cli/main.js';
import { projectRoot } from '../../src/util/project-root.js';
import { documentedCommands, shellWords } from './doc-commands.js';

const ROOT = projectRoot();
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'doc'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('doc', f)),
];

describe('doc: every documented command line', function () {
  this.timeout(60_000);

  it('finds the command lines of the docs (shell blocks, synopses, commands in the prose)', () => {
    const all = DOCS.flatMap((file) => documentedCommands(file, readFileSync(join(ROOT, file), 'utf8')));
    expect(all.filter((c) => c.kind === 'run').length).to.be.greaterThan(30);
    expect(all.filter((c) => c.kind === 'synopsis').length).to.be.greaterThan(5);
    expect(all.some((c) => c.file === 'README.md' && c.words.join(' ') === 'generate -i Once upon a time')).to.equal(true);
  });

  it('splits shell words as sh does, for the forms the docs use', () => {
    expect(shellWords(`build -i "Once upon a time" --ssh-option 'A=1' x\\ y`)).to.deep.equal([
      'build',
      '-i',
      'Once upon a time',
      '--ssh-option',
      'A=1',
      'x y',
    ]);
  });

  for (const file of DOCS) {
    it(`${file}: the parser accepts each one`, async () => {
      const problems: string[] = [];
      for (const c of documentedCommands(file, readFileSync(join(ROOT, file), 'utf8'))) {
        if (c.kind === 'run') {
          const result = await checkCommandLine(c.words, 'parse');
          if (!(result instanceof CommandLineParsed))
            problems.push(`${file}:${c.line}: llama2-embed ${c.words.join(' ')}\n    ${result.message.split('\n')[0]}`);
          continue;
        }
        const result = await checkCommandLine([c.words[0]], 'options');
        if (!(result instanceof CommandLineParsed)) {
          problems.push(`${file}:${c.line}: no command "${c.words[0]}"`);
          continue;
        }
        const unknown = c.flags.filter((f) => !result.options.includes(f.replace(/^--?(no-)?/, '')));
        if (unknown.length) problems.push(`${file}:${c.line}: llama2-embed ${c.words[0]} has no ${unknown.join(', ')}`);
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });
  }
});
