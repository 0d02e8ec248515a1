/**
 * The kernels a generated program uses: each request (a kernel and the shape parameters bound to
 * the model's constants) gets one specialized C function, named after the kernel and each shape
 * parameter with its value (`matmul_q8_d172_n64_g64`: d = 172 rows, n = 64 columns, groups of 64);
 * kernels called from inside them are emitted generic.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { BUILTINS_PRELUDE, KernelCompiler, snakeCase } from './kernel-compiler.js';

let shared: KernelCompiler | undefined;

/** The compiler over the product's kernels (src/kernels), parsed once per process. */
export function productKernels(): KernelCompiler {
  if (!shared) {
    const root = projectRoot();
    const dir = join(root, 'src', 'kernels');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'types.ts' && f !== 'builtins.ts')
      .map((f) => join(dir, f));
    shared = new KernelCompiler(files, root);
  }
  return shared;
}

/** Short names of the shape parameters in a C kernel name; the others go as they are, in snake case. */
const PARAMETER_TAGS: Record<string, string> = {
  groupSize: 'g',
  scaleShift: 'shift',
  headSize: 'hs',
  nHeads: 'heads',
  kvDim: 'kv',
  kvMul: 'kvmul',
  hiddenDim: 'hidden',
};

/** The C name of a kernel specialized for `bind`: `matmulQ8`, { d: 172, n: 64, groupSize: 64 } → `matmul_q8_d172_n64_g64`. */
export function specializedName(kernel: string, bind: Record<string, number>): string {
  const tags = Object.entries(bind).map(([name, value]) => `${PARAMETER_TAGS[name] ?? snakeCase(name)}${value}`);
  return [snakeCase(kernel), ...tags].join('_');
}

interface Request {
  kernel: string;
  bind: Record<string, number>;
  cName: string;
}

/**
 * Collects the kernels one generated program uses, as code generation asks for them (use()), and
 * then emits kernels.h: the specialized functions, the generic kernels they call and the constants
 * they read, each once.
 */
export class KernelSet {
  private readonly requests = new Map<string, Request>();
  private readonly generic = new Set<string>();

  /**
   * `generic`: kernels are not specialized; each request becomes a wrapper that passes the shapes
   * at run time (through `runtime_one`, a global the compiler cannot see the value of), as a
   * program reading its shapes from the checkpoint would. The baseline of the benchmarks.
   */
  constructor(
    private readonly compiler: KernelCompiler = productKernels(),
    private readonly options: { generic?: boolean } = {},
  ) {}

  /**
   * The C name of `kernel` specialized for `bind` (its shape parameters in the order they should
   * appear in the name), e.g. use('matmulF32', { d: 172, n: 64 }) = 'matmul_f32_d172_n64'. Two
   * requests that would get one C name for different kernels or shapes are refused (an Error: a
   * bug in the code generator), never one silently taking the other's place.
   */
  use(kernel: string, bind: Record<string, number> = {}): string {
    const specialized = Object.keys(bind).length > 0;
    const cName = specialized ? specializedName(kernel, bind) : snakeCase(kernel);
    const earlier = this.requests.get(cName);
    const sameRequest = earlier !== undefined && earlier.kernel === kernel && JSON.stringify(earlier.bind) === JSON.stringify(bind);
    if ((earlier !== undefined && !sameRequest) || [...this.generic].some((g) => g !== kernel && snakeCase(g) === cName)) {
      throw new Error(
        `KernelSet.use: the C name ${cName} of ${kernel} ${JSON.stringify(bind)} is taken by ${earlier ? `${earlier.kernel} ${JSON.stringify(earlier.bind)}` : 'another kernel'}`,
      );
    }
    if (!specialized || this.options.generic) this.generic.add(kernel);
    if (specialized) this.requests.set(cName, { kernel, bind, cName });
    for (const dep of this.compiler.dependencies(kernel)) this.generic.add(dep);
    return cName;
  }

  get isGeneric(): boolean {
    return Boolean(this.options.generic);
  }

  /**
   * The C names of the kernels both this set and `other` (another C file's of the same program)
   * define that the two files can share, compiled once (emit's `external` and `declared`): the
   * functions that return nothing. The helpers that return a value stay `static inline` in each
   * file, inlined in its loops, and so do a generic build's run-time wrappers.
   */
  sharedWith(other: KernelSet): Set<string> {
    const theirs = other.functions();
    return new Set([...this.functions()].filter((name) => theirs.has(name)));
  }

  /**
   * kernels.h (or another C file's header of kernels, with the include guard `guard`): constants,
   * prototypes, then every requested kernel and the generic ones they call. Kernels named in
   * `external` are defined without `static` (another C file calls them too); those in `declared`
   * are only declared (another C file's header defines them). Both are sharedWith's names.
   */
  emit(header: string, options: { guard?: string; external?: Set<string>; declared?: Set<string> } = {}): string {
    const { guard = 'LLAMA2_EMBED_KERNELS_H', external = new Set<string>(), declared = new Set<string>() } = options;
    const generic = [...this.generic].sort();
    const specialized = [...this.requests.values()].sort((a, b) => a.cName.localeCompare(b.cName));
    const all = [
      ...generic.filter((k) => !declared.has(snakeCase(k))),
      ...specialized.filter((r) => !declared.has(r.cName)).map((r) => r.kernel),
    ];
    // Helpers that return a value (expF32, argmax...) are small and called inside loops: `inline`
    // lets GCC inline them there at -O3 even where it is called from several kernels, and a loop of
    // exponentials then vectorizes (a call would keep it scalar).
    const storageOf = (name: string, cName: string): string =>
      external.has(cName) || declared.has(cName) ? '' : this.returnsNothing(name) ? 'static' : 'static inline';
    const prototypes = [
      ...generic.map((k) => this.compiler.emitPrototype(k, { storage: storageOf(k, snakeCase(k)) })),
      ...specialized.map((r) =>
        this.compiler.emitPrototype(r.kernel, { storage: storageOf(r.kernel, r.cName), bind: r.bind, cName: r.cName }),
      ),
    ];
    const bodies = [
      ...generic
        .filter((k) => !declared.has(snakeCase(k)))
        .map((k) => this.compiler.emitFunction(k, { storage: storageOf(k, snakeCase(k)) })),
      ...specialized
        .filter((r) => !declared.has(r.cName))
        .map((r) =>
          this.options.generic
            ? this.runtimeWrapper(r)
            : this.compiler.emitFunction(r.kernel, { storage: storageOf(r.kernel, r.cName), bind: r.bind, cName: r.cName }),
        ),
    ];
    return [
      header,
      `#ifndef ${guard}`,
      `#define ${guard}`,
      '',
      '#include <math.h>',
      '#include <stdbool.h>',
      '#include <stdint.h>',
      '',
      BUILTINS_PRELUDE,
      this.options.generic ? 'extern int runtime_one; /* = 1, defined in forward.c: shapes are run-time values */' : '',
      this.compiler.emitConstants(all),
      '',
      prototypes.join('\n'),
      '',
      bodies.join('\n'),
      '#endif',
      '',
    ].join('\n');
  }

  /** Whether the kernel `name` returns nothing (a function proper, not a helper computing a value). */
  private returnsNothing(name: string): boolean {
    return this.compiler.signature(name).returns === 'void';
  }

  /** The C names of the functions this set defines that can be shared with another C file (sharedWith). */
  private functions(): Set<string> {
    const names = [...this.generic].filter((k) => this.returnsNothing(k)).map((k) => snakeCase(k));
    if (!this.options.generic) names.push(...[...this.requests.values()].map((r) => r.cName));
    return new Set(names);
  }

  /** A specialized kernel's name and signature, calling the generic kernel with run-time shapes. */
  private runtimeWrapper(r: Request): string {
    const signature = this.compiler.signature(r.kernel);
    const head = this.compiler.emitPrototype(r.kernel, { storage: 'static inline', bind: r.bind, cName: r.cName }).slice(0, -1);
    const args = signature.params.map((p) => (r.bind[p.name] !== undefined ? `runtime_one * ${r.bind[p.name]}` : snakeCase(p.name)));
    const call = `${snakeCase(r.kernel)}(${args.join(', ')})`;
    return `${head} {\n    ${signature.returns === 'void' ? '' : 'return '}${call};\n}\n`;
  }
}
