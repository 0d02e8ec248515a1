/**
 * Every exported function and class in src/ has a doc comment (`/** … *\/`) directly above it:
 * what it does in the domain's words, what it returns, what a caller must know (units, who owns a
 * buffer, what it throws). Exported variables, types and interfaces are not required to have one.
 * The check reads the sources with ts-morph, without type-checking them.
 */
import { expect } from 'chai';
import { join, relative } from 'node:path';
import { Node, Project, type SourceFile } from 'ts-morph';
import { projectRoot } from '../../src/util/project-root.js';

const ROOT = projectRoot();

/** `file:line name` of every exported function or class in `files` with no (or an empty) JSDoc comment. */
function undocumented(files: SourceFile[], root: string): string[] {
  const missing: string[] = [];
  for (const file of files) {
    const path = relative(root, file.getFilePath());
    const decls = [...file.getFunctions(), ...file.getClasses()].sort((x, y) => x.getStart() - y.getStart());
    for (const decl of decls) {
      if (!decl.isExported()) continue;
      // an overloaded function carries its comment on the first signature
      const first = Node.isFunctionDeclaration(decl) ? (decl.getOverloads()[0] ?? decl) : decl;
      const documented = first.getJsDocs().some((d) => d.getDescription().trim() !== '' || d.getTags().length > 0);
      if (!documented) missing.push(`${path}:${decl.getStartLineNumber()} ${decl.getName() ?? '(default)'}`);
    }
  }
  return missing;
}

describe('doc: every exported function and class in src/ has a doc comment', function () {
  this.timeout(60_000);

  it('finds none without one', () => {
    const project = new Project({
      tsConfigFilePath: join(ROOT, 'tsconfig.json'),
      skipAddingFilesFromTsConfig: false,
      skipFileDependencyResolution: true,
    });
    const src = project.getSourceFiles().filter((f) => relative(ROOT, f.getFilePath()).startsWith('src/'));
    const exported = src.flatMap((f) => [...f.getFunctions(), ...f.getClasses()].filter((d) => d.isExported()));
    expect(exported.length, 'exported functions and classes found in src/').to.be.greaterThan(100);
    const missing = undocumented(src, ROOT);
    expect(missing).to.deep.equal(
      [],
      `${missing.length} exported function(s) or class(es) in src/ have no doc comment:\n  ${missing.join('\n  ')}\n` +
        'Write a /** … */ comment directly above each: what it does in the domain’s words, what it returns, ' +
        'and what a caller must know (units, ownership of buffers, what it throws). One to three lines is usually enough.\n',
    );
  });

  it('tells a doc comment from a plain comment, and ignores what is not exported', () => {
    const project = new Project({ useInMemoryFileSystem: true });
    const file = project.createSourceFile(
      '/p/src/a.ts',
      [
        '/** Documented. */',
        'export function documented(): void {}',
        '// a line comment is not a doc comment',
        'export function lineComment(): void {}',
        '/* nor is a block comment */',
        'export class BlockComment {}',
        '/** */',
        'export function emptyDoc(): void {}',
        '/** The first signature carries it. */',
        'export function overloaded(x: number): number;',
        'export function overloaded(x: string): string;',
        'export function overloaded(x: unknown): unknown { return x; }',
        'function internal(): void {}',
        'export const arrow = () => internal();',
        'export interface Shape { n: number }',
      ].join('\n'),
    );
    expect(undocumented([file], '/p')).to.deep.equal(['src/a.ts:4 lineComment', 'src/a.ts:6 BlockComment', 'src/a.ts:8 emptyDoc']);
  });
});
