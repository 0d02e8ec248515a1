/**
 * Whether each scheme fits each target, folded into one verdict per target (instead of one per
 * target and scheme): the target's memory limits, which schemes fit and which do not, and what
 * they need. A scheme fits a target when every memory holds what the plan puts there: the
 * memory of the weights (sizes.ts `needed`) and, when the run state lives elsewhere (the RP2040's
 * SRAM), that memory too. The terminal and HTML renderings show the same sentences.
 */
import { formatBytes } from '../util/progress.js';
import type { QuantReport } from './compare.js';
import type { TargetVerdict } from './sizes.js';

/** What a scheme's plan puts in one memory of a target, against its capacity. */
export interface MemoryNeed {
  memory: string;
  needed: number;
  /** Null when only the machine limits it. */
  capacity: number | null;
  fits: boolean;
}

/** One scheme on one target: every memory it uses there. */
export interface SchemeFit {
  scheme: string;
  needs: MemoryNeed[];
  fits: boolean;
}

/** Every scheme (fp32 first) on one target. */
export interface TargetFit {
  target: string;
  /** The memories the plan uses, with their capacities ("flash 1.9 MiB, sram 252.0 KiB", "no fixed limit"). */
  limits: string;
  schemes: SchemeFit[];
  /** The schemes that fit, and what they take ("q8_0 fits (flash 281.4 KiB, sram 251.9 KiB)"); "" when none. */
  fitting: string;
  /** The schemes that do not, and the memories they overflow ("f32, q4_0 do not (sram needs 662.4 KiB)"); "" when all fit. */
  failing: string;
}

function needsOf(v: TargetVerdict): MemoryNeed[] {
  const needs: MemoryNeed[] = [{ memory: v.memory, needed: v.needed, capacity: v.capacity, fits: v.fits }];
  if (v.state) needs.push({ memory: v.state.memory, needed: v.state.needed, capacity: v.state.capacity, fits: v.state.fits });
  return needs;
}

/** "840.5 KiB to 1.7 MiB", or one figure when they print the same. */
function range(values: number[]): string {
  const lo = formatBytes(Math.min(...values));
  const hi = formatBytes(Math.max(...values));
  return lo === hi ? lo : `${lo} to ${hi}`;
}

function names(fits: SchemeFit[]): string {
  return fits.map((f) => f.scheme).join(', ');
}

/** "ram 840.5 KiB to 1.7 MiB", per memory, over the given schemes' needs (only the overflowing ones with `overflowing`). */
function usage(fits: SchemeFit[], overflowing: boolean): string {
  const memories = [...new Set(fits.flatMap((f) => f.needs.map((n) => n.memory)))];
  return memories
    .map((memory) => {
      const needs = fits.flatMap((f) => f.needs.filter((n) => n.memory === memory && (!overflowing || !n.fits)));
      if (needs.length === 0) return '';
      return `${memory}${overflowing ? ' needs' : ''} ${range(needs.map((n) => n.needed))}`;
    })
    .filter(Boolean)
    .join(', ');
}

/** One verdict per target, in the report's target order, over fp32 and every scheme. */
export function targetFits(r: QuantReport): TargetFit[] {
  const all = [{ scheme: 'f32', sizes: r.reference.sizes }, ...r.schemes];
  return r.reference.sizes.targets.map((t, i) => {
    const schemes = all.map((x): SchemeFit => {
      const needs = needsOf(x.sizes.targets[i]);
      return { scheme: x.scheme, needs, fits: needs.every((n) => n.fits) };
    });
    const memories = needsOf(t);
    const limits = memories.every((m) => m.capacity === null)
      ? 'no fixed limit'
      : memories.map((m) => `${m.memory} ${m.capacity === null ? 'no limit' : formatBytes(m.capacity)}`).join(', ');
    const yes = schemes.filter((s) => s.fits);
    const no = schemes.filter((s) => !s.fits);
    const fitting =
      yes.length === 0 ? '' : `${no.length === 0 ? 'all fit' : `${names(yes)} fit${yes.length === 1 ? 's' : ''}`} (${usage(yes, false)})`;
    const failing =
      no.length === 0 ? '' : `${yes.length === 0 ? 'none fit' : `${names(no)} do${no.length === 1 ? 'es' : ''} not`} (${usage(no, true)})`;
    return { target: t.target, limits, schemes, fitting, failing };
  });
}

/** The verdict of one target in one line: "q8_0 fits (flash 281.4 KiB, sram 251.9 KiB); f32, q4_0 do not (sram needs 662.4 KiB)". */
export function fitLine(f: TargetFit): string {
  return [f.fitting, f.failing].filter(Boolean).join('; ');
}
