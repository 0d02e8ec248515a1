/**
 * A sampling profiler for firmware in the emulator: every `intervalCycles` core cycles the harness
 * hands it the program counter, the link register and the stack, and it counts the sample against
 * the kernel that was running, in three groups: matmul, attention, and the rest.
 *
 * Where a program counter is: from the firmware ELF beside the UF2 (`elf-symbols.ts`): its symbol
 * table for the real functions and, when built with -g, the debug information's inlined-function
 * chains, because GCC inlines most kernels into forward() (`matmul_*`, `attention_*`, `rmsnorm_*`,
 * `rope_*`, `swiglu_*`, `quantize_*`, … from src/kernels become code inside forward).
 *
 * Who called a helper: soft-float and libm routines (`__aeabi_fmul`, `__aeabi_fadd`, `floor`, …)
 * and the kernels shared between attention and sampling (`exp_f32`, `softmax`) are counted for
 * their caller. The caller is the first return address, in LR and then up the stack from SP, that
 * follows a BL or BLX instruction and lies in code that is not itself such a helper: a stack scan,
 * as a debugger does without unwind tables. A helper sample whose caller it cannot find is
 * counted as "unattributed". Samples in the soft-float routines are also totalled on their own.
 */
import { readFileSync } from 'node:fs';
import { functionAt, inlinedAt, readElfFunctions, type ElfFunction } from './elf-symbols.js';

export const PROFILE_CATEGORIES = ['matmul', 'attention', 'rest'] as const;
export type ProfileCategory = (typeof PROFILE_CATEGORIES)[number];

/** Code around the model that is no kernel itself: its own instructions count as the rest, under its own name. */
const DRIVERS = new Set(['forward', 'main', 'run_baked_generation', 'serve_generate', 'handle_frame', 'serve_forever', 'forward_init']);

/** libgcc's and libm's routines (and the C library's memory functions): counted for their caller. */
export function isRuntimeHelper(name: string): boolean {
  return /^__/.test(name) || /^(floor|ceil|round|trunc|scalbn|ldexp|sqrt|exp|log|fabs|memset|memcpy|memmove|memcmp)f?$/.test(name);
}

/** Soft-float arithmetic (libgcc): the __aeabi_f… and __aeabi_d… routines, __addsf3, __mulsf3, comparisons, conversions. */
export function isSoftFloat(name: string): boolean {
  return (
    /^__aeabi_[fd](add|sub|rsub|mul|div|neg|cmp[a-z]*|2[a-z]+)$/.test(name) ||
    /^__aeabi_u?[il]2[fd]$/.test(name) ||
    /^__(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|unord|float[a-z]*|fix[a-z]*|extend[a-z]*|trunc[a-z]*)[sd]f[0-9]?$/.test(name) ||
    /^__(ieee754_|clzsi2)/.test(name)
  );
}

/** Kernels whose cost belongs to whoever called them (attention uses them, and so does sampling). */
function isSharedKernel(name: string): boolean {
  return /^(exp_f32|softmax)/.test(name);
}

/** The name without GCC's clone suffixes (.constprop.0, .part.0, .isra.0, .lto_priv.0). */
export function baseName(name: string): string {
  return name.replace(/\.(constprop|part|isra|lto_priv|cold)(\.\d+)*/g, '');
}

/**
 * Which group a chain of functions (innermost first, as addr2line -i gives them) belongs to, and
 * the kernel to show it under: the outermost function of the chain that is not a driver
 * (forward, main, …), or the innermost driver when the code is the driver's own.
 */
export function classifyChain(chain: readonly string[]): { category: ProfileCategory; kernel: string } {
  const names = chain.map(baseName);
  const category: ProfileCategory = names.some((n) => /^(matmul|dot_q[48])/.test(n))
    ? 'matmul'
    : names.some((n) => /^attention/.test(n))
      ? 'attention'
      : 'rest';
  const kernels = names.filter((n) => !DRIVERS.has(n));
  const kernel = kernels.length ? kernels[kernels.length - 1] : (names[0] ?? '(unknown)');
  return { category, kernel };
}

interface Site {
  category: ProfileCategory;
  kernel: string;
  /** A helper or shared kernel: look for the caller. */
  needsCaller: boolean;
  softFloat: boolean;
}

export interface ProfileRow {
  category: ProfileCategory | 'unattributed';
  kernel: string;
  samples: number;
  /** Of which in soft-float routines called by this kernel. */
  softFloatSamples: number;
}

export interface Profile {
  intervalCycles: number;
  samples: number;
  /** Samples and shares (0..1) per group; `unattributed`: helpers whose caller was not found. */
  shares: Record<ProfileCategory | 'unattributed', number>;
  counts: Record<ProfileCategory | 'unattributed', number>;
  /** Share of all samples spent in soft-float routines, whoever called them. */
  softFloatShare: number;
  /** Per kernel, most samples first. */
  rows: ProfileRow[];
  /** Whether inlined kernels could be told apart (the ELF had debug information). */
  inlineInfo: boolean;
}

export interface ProfilerOptions {
  /** Core cycles between samples (default 997: prime, so as not to beat with a loop's period). */
  intervalCycles?: number;
  /** The toolchain's addr2line (default arm-none-eabi-addr2line). */
  addr2line?: string;
}

/** What the sampler reads of the machine at a sample. */
export interface MachineState {
  pc: number;
  lr: number;
  sp: number;
  /** A 32-bit word of memory (the stack), or undefined outside SRAM. */
  readWord(address: number): number | undefined;
  /** A halfword of code, or undefined outside flash and SRAM. */
  readHalfword(address: number): number | undefined;
}

/** How many stack words above SP the caller search looks at. */
const STACK_SCAN_WORDS = 96;

/**
 * Counts PC samples against the kernels of the firmware ELF (`elf`), charging soft-float and shared
 * helpers to their caller. Reading the ELF (and, with -g, running addr2line over every address)
 * happens in the constructor, before the run; throws an Error for a bad `intervalCycles`.
 */
export class PcProfiler {
  readonly intervalCycles: number;
  /** The cycle count at which the next sample is due. */
  nextSample = 0;
  private readonly functions: ElfFunction[];
  private readonly sites = new Map<number, Site>();
  private readonly counts = new Map<string, ProfileRow>();
  private total = 0;
  private softFloatTotal = 0;
  readonly inlineInfo: boolean;

  constructor(elf: string, options: ProfilerOptions = {}) {
    this.intervalCycles = options.intervalCycles ?? 997;
    if (!(Number.isInteger(this.intervalCycles) && this.intervalCycles > 0))
      throw new Error(`profiler: intervalCycles must be a positive integer, got ${options.intervalCycles}`);
    const { functions, hasDebugInfo } = readElfFunctions(readFileSync(elf));
    this.functions = functions;
    this.inlineInfo = hasDebugInfo;
    // every halfword of every function, resolved once before the run
    const addresses: number[] = [];
    for (const f of functions) for (let a = f.address; a < f.address + f.size; a += 2) addresses.push(a);
    const chains = hasDebugInfo ? inlinedAt(elf, addresses, options.addr2line) : new Map<number, string[]>();
    for (const f of functions) {
      const helper = isRuntimeHelper(f.name);
      const softFloat = isSoftFloat(f.name);
      for (let a = f.address; a < f.address + f.size; a += 2) {
        const chain = chains.get(a);
        const names = chain && chain.length ? chain : [f.name];
        const { category, kernel } = classifyChain(names);
        // a shared kernel inlined into attention (or sampling) is theirs; on its own, its caller decides
        const shared = names.every((n) => isSharedKernel(baseName(n)));
        this.sites.set(a, { category, kernel, needsCaller: helper || shared, softFloat });
      }
    }
  }

  /** The site of an address (halfword aligned), for tests and reports. */
  siteAt(address: number): { category: ProfileCategory; kernel: string; needsCaller: boolean; function?: string } | undefined {
    const site = this.sites.get(address & ~1);
    if (!site) return undefined;
    return {
      category: site.category,
      kernel: site.kernel,
      needsCaller: site.needsCaller,
      function: functionAt(this.functions, address & ~1)?.name,
    };
  }

  /** Counts one sample; `cycles` is the core's count (the next sample is due `intervalCycles` later). */
  sample(m: MachineState, cycles: number): void {
    // on a fixed grid (no drift from instructions that overshoot it); after a long sleep, from now
    this.nextSample += this.intervalCycles;
    if (this.nextSample <= cycles) this.nextSample = cycles + this.intervalCycles;
    this.total++;
    const site = this.sites.get(m.pc & ~1);
    let category: ProfileRow['category'];
    let kernel: string;
    const softFloat = site?.softFloat ?? false;
    if (softFloat) this.softFloatTotal++;
    if (!site) {
      category = 'rest';
      kernel = '(no symbol)';
    } else if (!site.needsCaller) {
      category = site.category;
      kernel = site.kernel;
    } else {
      const caller = this.findCaller(m);
      if (caller) {
        category = caller.category;
        kernel = caller.kernel;
      } else {
        category = 'unattributed';
        kernel = functionAt(this.functions, m.pc & ~1)?.name ?? '(no symbol)';
      }
    }
    const key = `${category}\0${kernel}`;
    let row = this.counts.get(key);
    if (!row) this.counts.set(key, (row = { category, kernel, samples: 0, softFloatSamples: 0 }));
    row.samples++;
    if (softFloat) row.softFloatSamples++;
  }

  /** The first return address (LR, then the stack) after a BL/BLX into code that is not a helper. */
  private findCaller(m: MachineState): Site | undefined {
    const check = (value: number | undefined): Site | undefined => {
      if (value === undefined || !(value & 1)) return undefined;
      const ret = (value & ~1) >>> 0;
      const site = this.sites.get(ret - 2);
      if (!site || site.needsCaller) return undefined;
      if (!this.followsCall(m, ret)) return undefined;
      return site;
    };
    const fromLr = check(m.lr);
    if (fromLr) return fromLr;
    for (let i = 0; i < STACK_SCAN_WORDS; i++) {
      const found = check(m.readWord(m.sp + 4 * i));
      if (found) return found;
    }
    return undefined;
  }

  /** Whether the instruction before `ret` is a BL (32-bit) or a BLX register (16-bit). */
  private followsCall(m: MachineState, ret: number): boolean {
    const blx = m.readHalfword(ret - 2);
    if (blx !== undefined && (blx & 0xff87) === 0x4780) return true;
    const hi = m.readHalfword(ret - 4);
    const lo = m.readHalfword(ret - 2);
    return hi !== undefined && lo !== undefined && (hi & 0xf800) === 0xf000 && (lo & 0xd000) === 0xd000;
  }

  /** The samples so far, grouped. */
  report(): Profile {
    const counts = { matmul: 0, attention: 0, rest: 0, unattributed: 0 };
    for (const row of this.counts.values()) counts[row.category] += row.samples;
    const share = (n: number) => (this.total ? n / this.total : 0);
    return {
      intervalCycles: this.intervalCycles,
      samples: this.total,
      counts,
      shares: {
        matmul: share(counts.matmul),
        attention: share(counts.attention),
        rest: share(counts.rest),
        unattributed: share(counts.unattributed),
      },
      softFloatShare: share(this.softFloatTotal),
      rows: [...this.counts.values()].sort((a, b) => b.samples - a.samples),
      inlineInfo: this.inlineInfo,
    };
  }

  /** Forgets the samples so far (e.g. to profile only the generation, not the boot). */
  reset(): void {
    this.counts.clear();
    this.total = 0;
    this.softFloatTotal = 0;
  }
}

/** A profile as text: the three groups, then the kernels. */
export function formatProfile(p: Profile, top = 12): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `${p.samples.toLocaleString('en-US')} samples, one every ${p.intervalCycles} cycles${p.inlineInfo ? '' : ' (no debug information: inlined kernels count as their caller)'}`,
    `  matmul ${pct(p.shares.matmul)}, attention ${pct(p.shares.attention)}, the rest ${pct(p.shares.rest)}${p.counts.unattributed ? `, unattributed helpers ${pct(p.shares.unattributed)}` : ''}; soft float ${pct(p.softFloatShare)} of all`,
  ];
  for (const row of p.rows.slice(0, top)) {
    lines.push(
      `  ${pct(row.samples / p.samples).padStart(6)}  ${row.kernel} (${row.category}${row.softFloatSamples ? `, ${pct(row.softFloatSamples / row.samples)} of it soft float` : ''})`,
    );
  }
  return lines.join('\n');
}
