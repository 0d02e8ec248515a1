/**
 * The kernel compiler: translates the kernel subset of TypeScript (src/kernels/*.ts, documented in
 * doc/kernels.md) to C99 with ts-morph. Each kernel can be emitted generic, or specialized with some
 * of its integer parameters bound to constants (the model's shapes), which become literals in the
 * body so that the C compiler can unroll and vectorize.
 *
 * The translation keeps the TypeScript semantics exactly: float32 arithmetic must be rounded with
 * `fround()` at every step (C computes it in float), integer division is `idiv()`, and any
 * construct outside the subset is rejected with `file:line: construct not supported in kernels: …`.
 */
import { Node, Project, SyntaxKind, type FunctionDeclaration, type SourceFile, type Statement } from 'ts-morph';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { UserError } from '../util/errors.js';
import {
  cType,
  elementOf,
  isArray,
  isFloat,
  isInteger,
  isNumeric,
  loadedType,
  SUPPORTED_ANNOTATIONS,
  typeFromAnnotation,
  type KernelType,
} from './ctypes.js';

/**
 * A kernel source outside the TypeScript subset the compiler translates, its message
 * `file:line: construct not supported in kernels: …`. A UserError: whoever edits src/kernels can fix it.
 */
export class KernelSyntaxError extends UserError {}

interface Param {
  name: string;
  type: KernelType;
}

interface KernelSignature {
  name: string;
  params: Param[];
  returns: KernelType;
  decl: FunctionDeclaration;
  file: SourceFile;
}

interface ModuleConst {
  name: string;
  type: KernelType;
  init: Node;
  file: SourceFile;
}

/** A C expression with its kernel type and C precedence (higher binds tighter). */
interface Expr {
  code: string;
  type: KernelType;
  prec: number;
  /** A float32 arithmetic result that still needs fround() around it to mean the same in TS and C. */
  unrounded?: boolean;
  /** The numeric value, for literals. */
  literal?: number | bigint;
}

const PRIMARY = 16;
const UNARY = 15;
const BINARY_PREC: Record<string, number> = {
  '*': 13,
  '/': 13,
  '%': 13,
  '+': 12,
  '-': 12,
  '<<': 11,
  '>>': 11,
  '>>>': 11,
  '<': 10,
  '<=': 10,
  '>': 10,
  '>=': 10,
  '===': 9,
  '!==': 9,
  '&': 8,
  '^': 7,
  '|': 6,
  '&&': 5,
  '||': 4,
};
const C_OPERATOR: Record<string, string> = { '===': '==', '!==': '!=', '>>>': '>>' };

/** Builtins (src/kernels/builtins.ts) and the few JavaScript globals the subset allows. */
const BUILTIN_RETURNS: Record<string, KernelType> = {
  fround: 'f32',
  sqrtf: 'f32',
  fabsf: 'f32',
  floor: 'f64',
  ldexp: 'f64',
  roundHalfAway: 'f64',
  idiv: 'i32',
  imin: 'i32',
  dotQ8Rows4: 'void',
  dotQ4Pair: 'void',
  dotQ4PairScaled: 'void',
  dotQ8Groups: 'void',
  mulShr: 'i32',
  toI32: 'i32',
  fixedToF32: 'f32',
  greaterF32: 'bool',
};

/** The builtins that write into the array given as their first argument. */
const BUILTIN_OUTPUTS = new Set(['dotQ8Rows4', 'dotQ8Groups', 'dotQ4Pair', 'dotQ4PairScaled']);

/** C definitions of the builtins that are not in C's own libraries (templates/common/kernel-builtins.h). */
export const BUILTINS_PRELUDE = readFileSync(join(projectRoot(), 'templates', 'common', 'kernel-builtins.h'), 'utf8');

/** A kernel or constant name as C spells it: `matmulQ8Int` → `matmul_q8_int`; ALL_CAPS names stay as they are. */
export function snakeCase(name: string): string {
  if (/^[A-Z0-9_]+$/.test(name)) return name; // CONSTANTS stay as they are
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

export interface EmitOptions {
  /** Integer parameters replaced by constants, e.g. `{ n: 64, d: 172 }`. */
  bind?: Record<string, number>;
  /** The C function name (default: the kernel's name in snake_case). */
  cName?: string;
  /** Storage class, e.g. 'static' or 'static inline'. */
  storage?: string;
}

/**
 * Translates the kernels (the exported functions of the files it is given, written in the subset
 * doc/kernels.md describes) to C99: a kernel's prototype or definition, generic or with integer
 * parameters bound to constants, plus the module constants they read. It checks each kernel as it
 * emits it: outside the subset, or float32 arithmetic not rounded with fround(), is a
 * KernelSyntaxError naming the file and line. Parsing is the slow part: build one and reuse it
 * (kernel-set.ts keeps one for the product's kernels).
 */
export class KernelCompiler {
  private readonly project: Project;
  private readonly kernels = new Map<string, KernelSignature>();
  private readonly consts = new Map<string, ModuleConst>();
  private readonly writtenParams = new Map<string, Set<string>>();
  private readonly viewsOf = new Map<string, Map<string, string>>();
  /** Every C name declared so far (kernels, their helpers, constants), with where: one C program holds them all. */
  private readonly declared = new Map<string, string>();
  /** The kernel being emitted: which of its arrays are written, and which parameter a local view looks into. */
  private current = { written: new Set<string>(), root: (n: string) => n };

  /** Loads every `.ts` file in `files` (the kernel sources). `root` is used to print paths. */
  constructor(
    files: string[],
    private readonly root: string,
  ) {
    this.project = new Project({
      skipAddingFilesFromTsConfig: true,
      skipFileDependencyResolution: true,
      compilerOptions: { strict: true },
    });
    for (const f of files) this.project.addSourceFileAtPath(f);
    for (const file of this.project.getSourceFiles()) this.collect(file);
    this.computeWrittenParams();
  }

  kernelNames(): string[] {
    return [...this.kernels.keys()];
  }

  has(name: string): boolean {
    return this.kernels.has(name);
  }

  signature(name: string): { params: { name: string; type: KernelType }[]; returns: KernelType } {
    const k = this.require(name);
    return { params: k.params.map((p) => ({ ...p })), returns: k.returns };
  }

  /** The kernels `name` calls, directly or not (not including itself). */
  dependencies(name: string): string[] {
    const seen = new Set<string>();
    const visit = (n: string) => {
      for (const call of this.require(n).decl.getDescendantsOfKind(SyntaxKind.CallExpression)) {
        const callee = call.getExpression().getText();
        if (this.kernels.has(callee) && !seen.has(callee)) {
          seen.add(callee);
          visit(callee);
        }
      }
    };
    visit(name);
    seen.delete(name);
    return [...seen];
  }

  /** The module constants (`const X: f64 = …`) that `names` use, as C definitions. */
  emitConstants(names: string[]): string {
    const used = new Set<string>();
    for (const n of names) {
      for (const id of this.require(n).decl.getDescendantsOfKind(SyntaxKind.Identifier)) {
        if (this.consts.has(id.getText())) used.add(id.getText());
      }
    }
    return [...used]
      .map((c) => {
        const k = this.consts.get(c)!;
        const scope = new Scope(undefined);
        const value = this.expr(k.init, scope, { rounded: false, expected: k.type });
        this.assignable(k.type, value, k.init);
        return `static const ${cType(k.type)} ${c} = ${this.convert(value, k.type).code};`;
      })
      .join('\n');
  }

  /** The C prototype of a kernel (with the same options as `emitFunction`). */
  emitPrototype(name: string, opts: EmitOptions = {}): string {
    return `${this.header(this.require(name), opts)};`;
  }

  /** The C definition of one kernel: its comment, source location, signature and body. */
  emitFunction(name: string, opts: EmitOptions = {}): string {
    const k = this.require(name);
    for (const key of Object.keys(opts.bind ?? {})) {
      const p = k.params.find((q) => q.name === key);
      if (!p || !isInteger(p.type)) throw new Error(`kernel ${name} has no integer parameter ${key} to specialize`);
    }
    const views = this.viewsOf.get(name)!;
    this.current = { written: this.writtenParams.get(name)!, root: (n: string) => views.get(n) ?? n };
    const scope = new Scope(undefined);
    for (const p of k.params) {
      const bound = opts.bind?.[p.name];
      if (bound !== undefined) scope.define(p.name, { type: p.type, constant: bound });
      else scope.define(p.name, { type: p.type });
    }
    const body = this.block(k.decl.getBodyOrThrow().asKindOrThrow(SyntaxKind.Block).getStatements(), scope, 1, k.returns);
    const doc = k.decl
      .getJsDocs()
      .map((d) => d.getDescription().trim())
      .filter(Boolean)
      .join('\n');
    const where = `${this.path(k.file)}:${k.decl.getStartLineNumber()}`;
    const bound = Object.entries(opts.bind ?? {})
      .map(([key, v]) => `${snakeCase(key)} = ${v}`)
      .join(', ');
    const comment = [doc, `Generated from ${where}${bound ? `, specialized for ${bound}` : ''}.`].filter(Boolean).join('\n');
    return `${blockComment(comment)}\n${this.header(k, opts)} {\n${body}}\n`;
  }

  // ---- collecting signatures ------------------------------------------------------------------

  private collect(file: SourceFile): void {
    for (const stmt of file.getStatements()) {
      if (Node.isImportDeclaration(stmt) || Node.isTypeAliasDeclaration(stmt)) continue;
      if (Node.isFunctionDeclaration(stmt)) {
        const name = stmt.getName();
        if (!name) throw this.unsupported(stmt, 'anonymous function');
        const params = stmt.getParameters().map((p) => {
          const annotation = p.getTypeNode()?.getText();
          const type = annotation ? typeFromAnnotation(annotation) : undefined;
          if (!type || type === 'void')
            throw this.unsupported(p, `parameter type ${annotation ?? '(none)'}; use one of ${SUPPORTED_ANNOTATIONS.join(', ')}`);
          return { name: p.getName(), type };
        });
        const returnText = stmt.getReturnTypeNode()?.getText();
        const returns = returnText ? typeFromAnnotation(returnText) : undefined;
        if (!returns || isArray(returns)) throw this.unsupported(stmt, `return type ${returnText ?? '(none)'}: declare a scalar or void`);
        this.declare(snakeCase(name), name, stmt);
        this.kernels.set(name, { name, params, returns, decl: stmt, file });
        continue;
      }
      if (Node.isVariableStatement(stmt)) {
        for (const d of stmt.getDeclarations()) {
          const annotation = d.getTypeNode()?.getText();
          const type = annotation ? typeFromAnnotation(annotation) : undefined;
          const init = d.getInitializer();
          if (!type || isArray(type) || !init)
            throw this.unsupported(d, 'module-level value: only `const NAME: <scalar type> = <literal>` is allowed');
          if (stmt.getDeclarationKind() !== 'const') throw this.unsupported(d, 'module-level `let`: kernels keep no state between calls');
          this.declare(d.getName(), d.getName(), d);
          this.consts.set(d.getName(), { name: d.getName(), type, init, file });
        }
        continue;
      }
      throw this.unsupported(stmt, stmt.getKindName());
    }
  }

  /**
   * Claims `cName` for `name` declared at `node`. Each kernel file is a module of its own in
   * TypeScript, but the generated C is one translation unit: two files' helpers of one name (or two
   * names with one snake_case spelling) would otherwise silently become one function.
   */
  private declare(cName: string, name: string, node: Node): void {
    const where = `${this.path(node.getSourceFile())}:${node.getStartLineNumber()}`;
    const earlier = this.declared.get(cName);
    if (earlier !== undefined) {
      throw new KernelSyntaxError(
        `${where}: the C name ${cName} is already declared at ${earlier}: kernels and their helpers share one C namespace; rename one of them`,
      );
    }
    this.declared.set(cName, `${where} (${name})`);
  }

  /** Which array parameters each kernel writes through (directly, via a view, or via a callee). */
  private computeWrittenParams(): void {
    for (const name of this.kernels.keys()) this.writtenParams.set(name, new Set());
    let changed = true;
    while (changed) {
      changed = false;
      for (const k of this.kernels.values()) {
        const written = this.writtenParams.get(k.name)!;
        const aliases = new Map<string, string>(); // local view -> parameter
        for (const d of k.decl.getDescendantsOfKind(SyntaxKind.VariableDeclaration)) {
          const init = d.getInitializer();
          if (init && Node.isCallExpression(init) && Node.isPropertyAccessExpression(init.getExpression())) {
            const target = init.getExpression().asKindOrThrow(SyntaxKind.PropertyAccessExpression).getExpression().getText();
            aliases.set(d.getName(), aliases.get(target) ?? target);
          }
        }
        this.viewsOf.set(k.name, aliases);
        const root = (n: string) => aliases.get(n) ?? n;
        const mark = (n: string) => {
          const p = root(n);
          if (k.params.some((q) => q.name === p) && !written.has(p)) {
            written.add(p);
            changed = true;
          }
        };
        for (const bin of k.decl.getDescendantsOfKind(SyntaxKind.BinaryExpression)) {
          const left = bin.getLeft();
          if (isAssignmentOperator(bin.getOperatorToken().getText()) && Node.isElementAccessExpression(left))
            mark(left.getExpression().getText());
        }
        for (const call of k.decl.getDescendantsOfKind(SyntaxKind.CallExpression)) {
          const name = call.getExpression().getText();
          // the builtins that fill an array write their first argument (dotQ4PairScaled: a kernel's output)
          if (BUILTIN_OUTPUTS.has(name)) {
            const out = call.getArguments()[0];
            if (out) mark(out.getText());
            continue;
          }
          const callee = this.kernels.get(name);
          if (!callee) continue;
          const calleeWritten = this.writtenParams.get(callee.name)!;
          call.getArguments().forEach((arg, i) => {
            const p = callee.params[i];
            if (!p || !calleeWritten.has(p.name)) return;
            const base = Node.isCallExpression(arg) ? arg.getExpression().getFirstChild()?.getText() : arg.getText();
            if (base) mark(base);
          });
        }
      }
    }
  }

  // ---- statements -----------------------------------------------------------------------------

  private header(k: KernelSignature, opts: EmitOptions): string {
    const written = this.writtenParams.get(k.name)!;
    const params = k.params
      .filter((p) => opts.bind?.[p.name] === undefined)
      .map((p) => `${cType(p.type, { constPointee: isArray(p.type) && !written.has(p.name) })} ${snakeCase(p.name)}`);
    const storage = opts.storage ? `${opts.storage} ` : '';
    return `${storage}${cType(k.returns)} ${opts.cName ?? snakeCase(k.name)}(${params.length ? params.join(', ') : 'void'})`;
  }

  private block(statements: Statement[], scope: Scope, depth: number, returns: KernelType): string {
    const inner = new Scope(scope);
    return statements.map((s) => this.statement(s, inner, depth, returns)).join('');
  }

  private statement(s: Statement | Node, scope: Scope, depth: number, returns: KernelType): string {
    const pad = '    '.repeat(depth);
    const comments = s
      .getLeadingCommentRanges()
      .map((c) => c.getText())
      .filter((t) => t.startsWith('//'))
      .map((t) => `${pad}${t}\n`)
      .join('');
    return comments + this.statementCode(s, scope, depth, returns, pad);
  }

  private statementCode(s: Node, scope: Scope, depth: number, returns: KernelType, pad: string): string {
    if (Node.isBlock(s)) return this.block(s.getStatements(), scope, depth, returns);
    if (Node.isVariableStatement(s)) {
      return s
        .getDeclarations()
        .map((d) => `${pad}${this.declaration(d, scope)};\n`)
        .join('');
    }
    if (Node.isExpressionStatement(s)) return `${pad}${this.exprStatement(s.getExpression(), scope)};\n`;
    if (Node.isReturnStatement(s)) {
      const e = s.getExpression();
      if (!e) return `${pad}return;\n`;
      const value = this.expr(e, scope, { rounded: false, expected: returns });
      this.assignable(returns, value, e);
      return `${pad}return ${this.convert(value, returns).code};\n`;
    }
    if (Node.isBreakStatement(s)) return `${pad}break;\n`;
    if (Node.isContinueStatement(s)) return `${pad}continue;\n`;
    if (Node.isIfStatement(s)) {
      const cond = this.condition(s.getExpression(), scope);
      let out = `${pad}if (${cond}) ${this.body(s.getThenStatement(), scope, depth, returns, pad)}`;
      const otherwise = s.getElseStatement();
      if (otherwise) {
        out = out.replace(/\n$/, '');
        if (Node.isIfStatement(otherwise)) out += ` else ${this.statementCode(otherwise, scope, depth, returns, pad).trimStart()}`;
        else out += ` else ${this.body(otherwise, scope, depth, returns, pad)}`;
      }
      return out;
    }
    if (Node.isForStatement(s)) {
      const inner = new Scope(scope);
      const init = s.getInitializer();
      let initCode = '';
      if (init && Node.isVariableDeclarationList(init))
        initCode = init
          .getDeclarations()
          .map((d) => this.declaration(d, inner))
          .join(', ');
      else if (init) initCode = this.exprStatement(init, inner);
      const cond = s.getCondition() ? this.condition(s.getConditionOrThrow(), inner) : '';
      const inc = s.getIncrementor() ? this.exprStatement(s.getIncrementorOrThrow(), inner) : '';
      const head = !initCode && !cond && !inc ? 'for (;;)' : `for (${initCode}; ${cond}; ${inc})`;
      // an innermost integer loop of a few iterations fixed by the shapes (a head's 8 values): see
      // KERNEL_UNROLL (float work, soft float on a core without an FPU, gains nothing from it and
      // would multiply its code)
      const bound = /^(\w+) < (\d+)$/.exec(cond);
      const body = s.getStatement();
      const innermost = !body.getFirstDescendant((d) => Node.isForStatement(d) || Node.isWhileStatement(d));
      const integer = !/\bfround\(/.test(body.getText());
      const short =
        bound && innermost && integer && initCode === `int ${bound[1]} = 0` && inc === `${bound[1]}++` && Number(bound[2]) <= 16;
      return `${short ? `${pad}KERNEL_UNROLL\n` : ''}${pad}${head} ${this.body(body, inner, depth, returns, pad)}`;
    }
    if (Node.isWhileStatement(s)) {
      return `${pad}while (${this.condition(s.getExpression(), scope)}) ${this.body(s.getStatement(), scope, depth, returns, pad)}`;
    }
    throw this.unsupported(s, s.getKindName());
  }

  /** The body of an if/for/while: always braced, as run.c mostly does. */
  private body(s: Node, scope: Scope, depth: number, returns: KernelType, pad: string): string {
    const inner = new Scope(scope);
    const code = Node.isBlock(s) ? this.block(s.getStatements(), inner, depth + 1, returns) : this.statement(s, inner, depth + 1, returns);
    return `{\n${code}${pad}}\n`;
  }

  private declaration(d: Node, scope: Scope): string {
    const decl = d.asKindOrThrow(SyntaxKind.VariableDeclaration);
    const name = decl.getName();
    const annotation = decl.getTypeNode()?.getText();
    const init = decl.getInitializer();
    let type = annotation ? typeFromAnnotation(annotation) : undefined;
    if (annotation && !type) throw this.unsupported(decl, `type ${annotation}; use one of ${SUPPORTED_ANNOTATIONS.join(', ')}`);
    if (!init) {
      if (!type) throw this.unsupported(decl, `variable ${name} without a type or a value`);
      scope.define(name, { type });
      return `${cType(type)} ${snakeCase(name)}`;
    }
    if (Node.isNewExpression(init)) return this.localArray(decl, name, type, init, scope);
    const value = this.expr(init, scope, { rounded: false, expected: type });
    if (!type) {
      if (value.type === 'intlit') type = 'i32';
      else if (value.type === 'floatlit') throw this.unsupported(decl, `untyped float constant ${name}: declare it f32 or f64`);
      else type = value.type;
    }
    this.assignable(type, value, init);
    scope.define(name, { type });
    const readOnlyView = isArray(type) && !this.current.written.has(this.current.root(name));
    return `${cType(type, { constPointee: readOnlyView })} ${snakeCase(name)} = ${this.convert(value, type).code}`;
  }

  /**
   * `const dots: Int32Array = new Int32Array(4)`: a small scratch array, zero-filled; in C an array
   * on the stack. Its size is a whole number in the source or an integer shape parameter
   * (`new Int32Array(headSize)`): specialized, a constant; in a generic build (the benchmarks'
   * baseline, shapes passed at run time) a variable-length array.
   */
  private localArray(decl: Node, name: string, type: KernelType | undefined, init: Node, scope: Scope): string {
    const created = init.asKindOrThrow(SyntaxKind.NewExpression);
    const made = typeFromAnnotation(created.getExpression().getText());
    const args = created.getArguments();
    if (!made || !isArray(made) || args.length !== 1) {
      throw this.unsupported(decl, 'new: only `new <TypedArray>(<size>)` makes a local array');
    }
    if (type && type !== made) throw this.unsupported(decl, `declared ${type} but made ${made}`);
    const element = cType(made).slice(0, -1);
    const arg = args[0];
    scope.define(name, { type: made });
    if (Node.isNumericLiteral(arg) && /^\d+$/.test(arg.getText())) return `${element} ${snakeCase(name)}[${arg.getText()}] = {0}`;
    const parameter =
      Node.isIdentifier(arg) &&
      Boolean(
        arg
          .getSymbol()
          ?.getDeclarations()
          .some((d) => Node.isParameterDeclaration(d)),
      );
    const size = parameter ? scope.lookup(arg.getText()) : undefined;
    if (!size || !isInteger(size.type)) {
      throw this.unsupported(arg, `local array size ${arg.getText()}: a whole number or an integer shape parameter`);
    }
    if (size.constant !== undefined) return `${element} ${snakeCase(name)}[${size.constant}] = {0}`;
    const c = snakeCase(name);
    return `${element} ${c}[${snakeCase(arg.getText())}]; memset(${c}, 0, sizeof ${c})`;
  }

  private condition(e: Node, scope: Scope): string {
    const c = this.expr(e, scope, { rounded: false });
    if (c.type !== 'bool' && !isNumeric(c.type)) throw this.unsupported(e, 'condition that is not a comparison or a number');
    return c.code;
  }

  /** Assignments, increments and calls used as statements. */
  private exprStatement(e: Node, scope: Scope): string {
    if (Node.isBinaryExpression(e) && isAssignmentOperator(e.getOperatorToken().getText())) {
      const op = e.getOperatorToken().getText();
      const target = this.expr(e.getLeft(), scope, { rounded: false, lvalue: true });
      const targetType = target.type;
      if (op !== '=') {
        if (!isInteger(targetType))
          throw this.unsupported(e, `compound assignment ${op} on a float; write x = fround(x ${op.slice(0, -1)} y)`);
        const value = this.expr(e.getRight(), scope, { rounded: false, expected: targetType });
        if (!isInteger(value.type)) throw this.unsupported(e, `${op} with a non-integer value`);
        return `${target.code} ${C_OPERATOR[op.slice(0, -1)] ? `${C_OPERATOR[op.slice(0, -1)]}=` : op} ${value.code}`;
      }
      const value = this.expr(e.getRight(), scope, { rounded: false, expected: targetType });
      this.assignable(targetType, value, e.getRight(), Node.isElementAccessExpression(e.getLeft()));
      const compound = this.compoundForm(target.code, e.getRight(), scope, targetType);
      return compound ?? `${target.code} = ${this.convert(value, targetType).code}`;
    }
    if (Node.isPostfixUnaryExpression(e) || Node.isPrefixUnaryExpression(e)) {
      const op =
        e.getOperatorToken() === SyntaxKind.PlusPlusToken ? '++' : e.getOperatorToken() === SyntaxKind.MinusMinusToken ? '--' : undefined;
      if (!op) throw this.unsupported(e, 'expression statement');
      const target = this.expr(e.getOperand(), scope, { rounded: false, lvalue: true });
      if (!isInteger(target.type)) throw this.unsupported(e, `${op} on a non-integer`);
      return Node.isPostfixUnaryExpression(e) ? `${target.code}${op}` : `${op}${target.code}`;
    }
    if (Node.isCallExpression(e)) return this.expr(e, scope, { rounded: false }).code;
    throw this.unsupported(e, `${e.getKindName()} as a statement`);
  }

  /**
   * `x = fround(x + e)` reads better as C's `x += e`, which means the same: C evaluates `x + (e)` in
   * the type of x. Returns undefined when the right side is not of that shape.
   */
  private compoundForm(target: string, right: Node, scope: Scope, targetType: KernelType): string | undefined {
    let inner = right;
    while (Node.isParenthesizedExpression(inner)) inner = inner.getExpression();
    if (Node.isCallExpression(inner) && inner.getExpression().getText() === 'fround' && inner.getArguments().length === 1)
      inner = inner.getArguments()[0];
    while (Node.isParenthesizedExpression(inner)) inner = inner.getExpression();
    if (!Node.isBinaryExpression(inner)) return undefined;
    const op = inner.getOperatorToken().getText();
    if (!['+', '-', '*'].includes(op)) return undefined;
    const left = this.expr(inner.getLeft(), scope, { rounded: false });
    if (left.code !== target) return undefined;
    const rest = this.expr(inner.getRight(), scope, { rounded: false });
    if (rest.unrounded) throw this.unrounded(inner);
    const type = arithmeticType(left, rest);
    if (type !== targetType && !(isInteger(type) && isInteger(targetType))) return undefined;
    return `${target} ${op}= ${this.convert(rest, type).code}`;
  }

  /**
   * Checks that storing `value` into a `target` keeps TS and C in agreement: a float32 variable may
   * only receive float32 values (a double would stay unrounded in TS); a Float32Array element
   * rounds any number on store, as C does; integers only receive integers.
   */
  private assignable(target: KernelType, value: Expr, at: Node, arrayElement = false): void {
    if (value.unrounded) throw this.unrounded(at);
    if (isArray(target) || isArray(value.type)) {
      if (target !== value.type) throw this.unsupported(at, `assigning ${value.type} to ${target}`);
      return;
    }
    if (
      target === 'f32' &&
      (value.type === 'f64' || (value.type === 'floatlit' && Math.fround(Number(value.literal)) !== value.literal)) &&
      !arrayElement
    ) {
      throw this.unsupported(at, 'a double stored in an f32 variable: round it with fround()');
    }
    if (isInteger(target) && target !== 'bool' && isFloat(value.type) && !arrayElement) {
      throw this.unsupported(at, `a floating-point value stored in an integer (${target})`);
    }
  }

  // ---- expressions ----------------------------------------------------------------------------

  private expr(e: Node, scope: Scope, ctx: { rounded: boolean; expected?: KernelType; lvalue?: boolean }): Expr {
    if (Node.isParenthesizedExpression(e)) return this.expr(e.getExpression(), scope, ctx);
    if (Node.isNumericLiteral(e)) {
      const value = Number(e.getLiteralValue());
      const isInt = /^(0x[0-9a-f]+|\d+)$/i.test(e.getText());
      return { code: e.getText(), type: isInt ? 'intlit' : 'floatlit', prec: PRIMARY, literal: value };
    }
    if (Node.isBigIntLiteral(e)) {
      const value = BigInt(e.getText().slice(0, -1));
      const code = value >= 2n ** 31n ? `${e.getText().slice(0, -1)}ULL` : e.getText().slice(0, -1);
      return { code, type: 'intlit', prec: PRIMARY, literal: value };
    }
    if (e.getKind() === SyntaxKind.TrueKeyword) return { code: 'true', type: 'bool', prec: PRIMARY };
    if (e.getKind() === SyntaxKind.FalseKeyword) return { code: 'false', type: 'bool', prec: PRIMARY };
    if (Node.isIdentifier(e)) return this.identifier(e, scope);
    if (Node.isElementAccessExpression(e)) {
      const array = this.expr(e.getExpression(), scope, { rounded: false });
      if (!isArray(array.type)) throw this.unsupported(e, 'indexing something that is not a typed array');
      const index = this.expr(e.getArgumentExpressionOrThrow(), scope, { rounded: false });
      if (!isInteger(index.type)) throw this.unsupported(e, 'an array index that is not an integer');
      return { code: `${paren(array, PRIMARY)}[${index.code}]`, type: loadedType(elementOf(array.type)), prec: PRIMARY };
    }
    if (Node.isPrefixUnaryExpression(e)) return this.prefix(e, scope);
    if (Node.isBinaryExpression(e)) return this.binary(e, scope, ctx);
    if (Node.isConditionalExpression(e)) {
      const cond = this.expr(e.getCondition(), scope, { rounded: false });
      const a = this.expr(e.getWhenTrue(), scope, { rounded: false, expected: ctx.expected });
      const b = this.expr(e.getWhenFalse(), scope, { rounded: false, expected: ctx.expected });
      if (a.unrounded || b.unrounded) throw this.unrounded(e);
      const type = unify(a.type, b.type);
      return { code: `${paren(cond, 4)} ? ${paren(this.convert(a, type), 4)} : ${paren(this.convert(b, type), 3)}`, type, prec: 3 };
    }
    if (Node.isCallExpression(e)) return this.call(e, scope, ctx);
    throw this.unsupported(e, e.getKindName());
  }

  private identifier(e: Node, scope: Scope): Expr {
    const name = e.getText();
    if (name === 'Infinity') return { code: 'INFINITY', type: 'f32', prec: PRIMARY };
    const v = scope.lookup(name);
    if (v) {
      if (v.constant !== undefined) return { code: String(v.constant), type: 'intlit', prec: PRIMARY, literal: v.constant };
      return { code: snakeCase(name), type: v.type, prec: PRIMARY };
    }
    const c = this.consts.get(name);
    if (c) return { code: name, type: c.type, prec: PRIMARY };
    throw this.unsupported(e, `unknown name ${name}`);
  }

  private prefix(e: Node, scope: Scope): Expr {
    const u = e.asKindOrThrow(SyntaxKind.PrefixUnaryExpression);
    const operand = this.expr(u.getOperand(), scope, { rounded: false });
    switch (u.getOperatorToken()) {
      case SyntaxKind.MinusToken:
        // negation is exact in float and double alike
        return {
          code: `-${paren(operand, UNARY)}`,
          type: operand.type,
          prec: UNARY,
          literal: operand.literal !== undefined ? -operand.literal : undefined,
        };
      case SyntaxKind.PlusToken:
        return operand;
      case SyntaxKind.ExclamationToken:
        return { code: `!${paren(operand, UNARY)}`, type: 'bool', prec: UNARY };
      case SyntaxKind.TildeToken:
        if (!isInteger(operand.type)) throw this.unsupported(u, '~ on a non-integer');
        return { code: `~${paren(operand, UNARY)}`, type: operand.type, prec: UNARY };
      default:
        throw this.unsupported(u, `prefix operator ${u.getText().slice(0, 2)}`);
    }
  }

  private binary(e: Node, scope: Scope, ctx: { rounded: boolean; expected?: KernelType }): Expr {
    const b = e.asKindOrThrow(SyntaxKind.BinaryExpression);
    const op = b.getOperatorToken().getText();
    if (isAssignmentOperator(op)) throw this.unsupported(b, 'assignment inside an expression');
    const prec = BINARY_PREC[op];
    if (prec === undefined) throw this.unsupported(b, `operator ${op}`);
    const left = this.expr(b.getLeft(), scope, { rounded: false });
    const right = this.expr(b.getRight(), scope, { rounded: false });
    if (left.unrounded || right.unrounded) throw this.unrounded(b);
    const cop = C_OPERATOR[op] ?? op;

    if (op === '&&' || op === '||') {
      // && inside || gets parentheses, as gcc -Wparentheses asks
      const minPrec = op === '||' ? 6 : prec;
      return { code: `${paren(left, minPrec)} ${cop} ${paren(right, Math.max(minPrec, prec + 1))}`, type: 'bool', prec };
    }
    if (prec === 9 || prec === 10) {
      const type = isNumeric(left.type) && isNumeric(right.type) ? arithmeticType(left, right) : unify(left.type, right.type);
      return { code: `${paren(this.convert(left, type), prec)} ${cop} ${paren(this.convert(right, type), prec + 1)}`, type: 'bool', prec };
    }
    if (['&', '|', '^', '<<', '>>', '>>>'].includes(op)) {
      if (!isInteger(left.type) || !isInteger(right.type)) throw this.unsupported(b, `${op} on a non-integer`);
      let type = unify(left.type, right.type);
      if (op === '<<' || op === '>>' || op === '>>>') type = left.type === 'intlit' ? 'i32' : left.type;
      if (op === '>>>') {
        type = type === 'u64' ? 'u64' : 'u32';
        const l = type === 'u64' ? left : { code: `(uint32_t)${paren(left, UNARY)}`, type, prec: UNARY };
        return { code: `${paren(l, prec)} >> ${paren(right, prec + 1)}`, type, prec };
      }
      // bitwise operands are parenthesized when they are binary themselves: C's precedence there surprises
      return { code: `${paren(left, PRIMARY - 1)} ${cop} ${paren(right, PRIMARY - 1)}`, type, prec };
    }
    // arithmetic
    if (op === '/' && isInteger(left.type) && isInteger(right.type)) {
      // JavaScript's / is real division: compute it in double, as TS does (integer division is idiv())
      const l =
        left.type === 'intlit'
          ? { ...left, code: `${left.code}.0` }
          : { code: `(double)${paren(left, UNARY)}`, type: 'f64' as KernelType, prec: UNARY };
      return { code: `${paren(l, prec)} / ${paren(right, prec + 1)}`, type: 'f64', prec };
    }
    if (op === '%' && !(isInteger(left.type) && isInteger(right.type))) throw this.unsupported(b, '% on a non-integer');
    const type = arithmeticType(left, right);
    // (a % b) / c and (a / b) * c: parenthesized for the reader, though C would group them the same
    const leftPrec = prec === 13 && left.prec === 13 && !left.code.includes(` ${cop} `) ? prec + 1 : prec;
    const code = `${paren(this.convert(left, type), leftPrec)} ${cop} ${paren(this.convert(right, type), prec + 1)}`;
    return { code, type, prec, unrounded: type === 'f32' && !ctx.rounded };
  }

  private call(e: Node, scope: Scope, _ctx: { rounded: boolean; expected?: KernelType }): Expr {
    const c = e.asKindOrThrow(SyntaxKind.CallExpression);
    const callee = c.getExpression();
    const args = c.getArguments();

    if (Node.isPropertyAccessExpression(callee)) {
      const object = callee.getExpression();
      const method = callee.getName();
      if (method === 'subarray' && args.length === 1) {
        const array = this.expr(object, scope, { rounded: false });
        if (!isArray(array.type)) throw this.unsupported(c, 'subarray of something that is not a typed array');
        const offset = this.expr(args[0], scope, { rounded: false });
        if (!isInteger(offset.type)) throw this.unsupported(c, 'subarray with a non-integer offset');
        return { code: `${paren(array, 12)} + ${paren(offset, 13)}`, type: array.type, prec: 12 };
      }
      if (object.getText() === 'BigInt' && method === 'asUintN' && args.length === 2 && args[0].getText() === '64') {
        // uint64_t arithmetic wraps by itself
        const value = this.expr(args[1], scope, { rounded: false });
        return { ...value, type: 'u64' };
      }
      throw this.unsupported(c, `method call ${callee.getText()}()`);
    }

    const name = callee.getText();
    if (name === 'Number' && args.length === 1) {
      const value = this.expr(args[0], scope, { rounded: false });
      if (value.type !== 'u64') throw this.unsupported(c, 'Number() of something that is not a u64');
      return { code: `(uint32_t)${paren(value, UNARY)}`, type: 'u32', prec: UNARY };
    }
    if (name === 'fround') {
      if (args.length !== 1) throw this.unsupported(c, 'fround() takes one argument');
      const value = this.expr(args[0], scope, { rounded: true });
      if (value.type === 'f32') return { ...value, unrounded: false };
      if (value.type === 'floatlit' || value.type === 'intlit') {
        const v = Number(value.literal);
        if (Math.fround(v) === v) return { code: floatLiteral(v), type: 'f32', prec: PRIMARY, literal: v };
        return { code: `(float)${value.code}`, type: 'f32', prec: UNARY };
      }
      if (isArray(value.type) || value.type === 'bool') throw this.unsupported(c, `fround() of ${value.type}`);
      return { code: `(float)${paren(value, UNARY)}`, type: 'f32', prec: UNARY };
    }
    const builtin = BUILTIN_RETURNS[name];
    if (builtin) {
      const values = args.map((a) => this.expr(a, scope, { rounded: false }));
      if (values.some((v) => v.unrounded)) throw this.unrounded(c);
      if (name === 'idiv') {
        if (!values.every((v) => isInteger(v.type))) throw this.unsupported(c, 'idiv() of non-integers');
        // on 32-bit ints the C builtin idiv() (the RP2040's hardware divider); unsigned ones keep `/`
        if (values.every((v) => v.type === 'i32' || v.type === 'intlit'))
          return { code: `idiv(${values[0].code}, ${values[1].code})`, type: 'i32', prec: PRIMARY };
        return { code: `${paren(values[0], values[0].prec === 13 ? 14 : 13)} / ${paren(values[1], 14)}`, type: 'i32', prec: 13 };
      }
      if (name === 'toI32') return { code: `(int32_t)${paren(values[0], UNARY)}`, type: 'i32', prec: UNARY };
      const cname = name === 'roundHalfAway' ? 'round_half_away' : name === 'ldexp' ? 'ldexp_exact' : snakeCase(name);
      const argTypes: Record<string, KernelType[]> = {
        sqrtf: ['f32'],
        fabsf: ['f32'],
        floor: ['f64'],
        ldexp: ['f64', 'i32'],
        roundHalfAway: ['f64'],
        imin: ['i32', 'i32'],
        dotQ8Rows4: ['i32[]', 'i8[]', 'i32', 'i8[]', 'i32', 'i32', 'i32'],
        dotQ4Pair: ['i32[]', 'i32[]', 'i32', 'i32[]', 'i32', 'i32'],
        dotQ4PairScaled: ['i32[]', 'i32', 'i32[]', 'i32[]', 'i32[]', 'i32', 'i16[]', 'i32', 'i32', 'i32', 'i32'],
        dotQ8Groups: ['i32[]', 'i8[]', 'i32', 'i8[]', 'i32', 'i32', 'i32'],
        mulShr: ['i32', 'i32', 'i32'],
        toI32: ['f64'],
        fixedToF32: ['i32'],
        greaterF32: ['f32', 'f32'],
      };
      values.forEach((v, i) => {
        const want = argTypes[name][i];
        if (isArray(want) !== isArray(v.type) || (isArray(want) && want !== v.type))
          throw this.unsupported(c, `${name}() argument ${i + 1} must be ${want}, got ${v.type}`);
      });
      const converted = values.map((v, i) => this.convert(v, argTypes[name][i]).code);
      return { code: `${cname}(${converted.join(', ')})`, type: builtin, prec: PRIMARY };
    }
    const kernel = this.kernels.get(name);
    if (!kernel) throw this.unsupported(c, `call to ${name}(): only kernels and builtins can be called`);
    if (args.length !== kernel.params.length)
      throw this.unsupported(c, `${name}() takes ${kernel.params.length} arguments, given ${args.length}`);
    const converted = args.map((a, i) => {
      const p = kernel.params[i];
      const v = this.expr(a, scope, { rounded: false, expected: p.type });
      this.assignable(p.type, v, a);
      return this.convert(v, p.type).code;
    });
    return { code: `${snakeCase(name)}(${converted.join(', ')})`, type: kernel.returns, prec: PRIMARY };
  }

  /** The expression as it must be written where a value of `type` is expected (literals take their form from it). */
  private convert(v: Expr, type: KernelType): Expr {
    if (v.type === 'intlit' || v.type === 'floatlit') {
      const n = Number(v.literal);
      if (type === 'f32' && Math.fround(n) === n) return { ...v, code: floatLiteral(n), type: 'f32' };
      if ((type === 'f64' || type === 'f32') && v.type === 'intlit' && typeof v.literal !== 'bigint')
        return { ...v, code: doubleLiteral(n), type };
      if (type === 'u64' && v.type === 'intlit' && !v.code.endsWith('ULL')) return { ...v, code: `${v.code}ULL` };
    }
    return v;
  }

  // ---- errors ---------------------------------------------------------------------------------

  private require(name: string): KernelSignature {
    const k = this.kernels.get(name);
    if (!k)
      throw new UserError(
        `no kernel named ${name} in ${[...new Set([...this.kernels.values()].map((x) => this.path(x.file)))].join(', ')}`,
      );
    return k;
  }

  private path(file: SourceFile): string {
    return relative(this.root, file.getFilePath());
  }

  private unsupported(node: Node, what: string): KernelSyntaxError {
    const file = this.path(node.getSourceFile());
    return new KernelSyntaxError(
      `${file}:${node.getStartLineNumber()}: construct not supported in kernels: ${what}\n  ${firstLine(node.getText())}`,
    );
  }

  private unrounded(node: Node): KernelSyntaxError {
    return this.unsupported(
      node,
      'float32 arithmetic must be rounded at every step: wrap it in fround() (C computes it in float, TypeScript in double)',
    );
  }
}

class Scope {
  private readonly vars = new Map<string, { type: KernelType; constant?: number }>();
  constructor(private readonly parent: Scope | undefined) {}
  define(name: string, v: { type: KernelType; constant?: number }): void {
    this.vars.set(name, v);
  }
  lookup(name: string): { type: KernelType; constant?: number } | undefined {
    return this.vars.get(name) ?? this.parent?.lookup(name);
  }
}

function isAssignmentOperator(op: string): boolean {
  return ['=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<=', '>>=', '>>>='].includes(op);
}

/** The type C computes `a op b` in, given TypeScript's meaning (double) and our rounding rules. */
function arithmeticType(a: Expr, b: Expr): KernelType {
  const types = [a.type, b.type];
  const exactFloatLiteral = (e: Expr) => e.type === 'floatlit' && Math.fround(Number(e.literal)) === Number(e.literal);
  if (types.includes('f64')) return 'f64';
  if (types.includes('f32')) {
    // a literal that float32 cannot hold exactly makes TS compute in double
    if ((a.type === 'floatlit' && !exactFloatLiteral(a)) || (b.type === 'floatlit' && !exactFloatLiteral(b))) return 'f64';
    return 'f32';
  }
  if (types.includes('floatlit')) return 'f64';
  return unify(a.type, b.type);
}

function unify(a: KernelType, b: KernelType): KernelType {
  if (a === b) return a;
  const order: KernelType[] = ['bool', 'intlit', 'i32', 'u32', 'u64', 'floatlit', 'f32', 'f64'];
  if (a === 'intlit') return b;
  if (b === 'intlit') return a;
  return order.indexOf(a) > order.indexOf(b) ? a : b;
}

function paren(e: Expr, minPrec: number): string {
  return e.prec < minPrec ? `(${e.code})` : e.code;
}

/** A float32 constant as C source: shortest decimal that reads back as the same float, with an f suffix. */
export function floatLiteral(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? 'INFINITY' : v < 0 ? '-INFINITY' : 'NAN';
  if (Object.is(v, -0)) return '-0.0f';
  for (let digits = 1; digits <= 9; digits++) {
    const text = v.toPrecision(digits);
    if (Math.fround(Number(text)) === v) return `${cNumber(text)}f`;
  }
  return `${cNumber(v.toPrecision(9))}f`;
}

/** A C double literal that reads back as exactly `v` (`1.0`, `2.5e-7`, INFINITY, NAN, `-0.0`). */
export function doubleLiteral(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? 'INFINITY' : v < 0 ? '-INFINITY' : 'NAN';
  if (Object.is(v, -0)) return '-0.0';
  return cNumber(String(v));
}

function cNumber(text: string): string {
  let t = text.replace(/e\+?/, 'e');
  if (!/[.e]/.test(t)) t += '.0';
  else if (/^-?\d+e/.test(t)) t = t.replace('e', '.0e');
  return t;
}

function blockComment(text: string): string {
  const lines = text.split('\n');
  return `/*\n${lines.map((l) => ` * ${l}`.trimEnd()).join('\n')}\n */`;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0];
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
