/**
 * The bounded KV cache (`--kv-window SINKS+WINDOW`, StreamingLLM's attention sinks and recent
 * window): a cache of SINKS + WINDOW rows per layer instead of one per position. Positions
 * 0 … SINKS-1 keep their rows for good (the "attention sinks" most heads lean on); the later
 * positions go round a ring of WINDOW rows, each overwriting the oldest. Keys are stored after
 * RoPE, at their absolute positions, so a row keeps its meaning wherever the ring puts it; the
 * attention of a position runs over the rows filled so far, in row order (the sinks, then the
 * ring as it lies). Until the ring wraps (positions < SINKS + WINDOW) row t holds position t, and
 * the result is the full cache's, bit for bit; after that it is an approximation: the positions
 * between the sinks and the window are forgotten. doc/kv-window.md says what it costs.
 */
import { UserError } from '../util/errors.js';

/** A bounded KV cache: `sinks` first positions kept, then a ring of the latest `window`. */
export interface KvWindow {
  sinks: number;
  window: number;
}

/** The option's name, as `build`, `generate`, `plan`, `export` and `report` take it. */
export const KV_WINDOW_OPTION = '--kv-window';

/**
 * `SINKS+WINDOW` (e.g. `4+60`) as a KvWindow; a UserError (usage, exit 2) that shows the expected
 * form for anything else: SINKS a whole number ≥ 0, WINDOW a whole number ≥ 1.
 */
export function parseKvWindow(text: string): KvWindow {
  const m = /^\s*(\d+)\s*\+\s*(\d+)\s*$/.exec(text);
  const sinks = m ? Number(m[1]) : NaN;
  const window = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(sinks) || !Number.isSafeInteger(window) || window < 1) {
    throw new UserError(
      `${KV_WINDOW_OPTION} must be SINKS+WINDOW, the first positions kept and the latest positions kept, ` +
        `whole numbers with WINDOW at least 1 (e.g. ${KV_WINDOW_OPTION} 4+60), got "${text}".`,
      2,
    );
  }
  return { sinks, window };
}

/**
 * Refuses a window that holds the whole context of `seqLen` positions (it would change nothing:
 * leave the option out for the exact cache), as a UserError naming `context`
 * (e.g. "the model's seq_len 512" or "--seq-len 64").
 */
export function checkKvWindow(kv: KvWindow, seqLen: number, context: string): void {
  if (kv.sinks + kv.window >= seqLen) {
    throw new UserError(
      `${KV_WINDOW_OPTION} ${kv.sinks}+${kv.window} keeps ${kv.sinks + kv.window} positions, and ${context} is ${seqLen} positions: ` +
        `the cache would hold the whole context, exactly as without the option. Leave ${KV_WINDOW_OPTION} out, ` +
        `or keep fewer than ${seqLen} positions.`,
      2,
    );
  }
}

/** Rows per layer of the KV cache for a context of `seqLen` positions: SINKS + WINDOW when bounded, else seqLen. */
export function kvCacheRows(seqLen: number, kv: KvWindow | undefined): number {
  return kv ? Math.min(seqLen, kv.sinks + kv.window) : seqLen;
}

/**
 * The cache row of position `pos` in a cache of `rows` rows: the position itself until the cache
 * is full, then the sinks' rows stay and the rest go round the ring after them.
 */
export function kvRow(pos: number, rows: number, kv: KvWindow | undefined): number {
  if (!kv || pos < rows) return pos;
  return kv.sinks + ((pos - kv.sinks) % kv.window);
}

/** The last cache row that attention at `pos` reads (it reads rows 0 … this one). */
export function kvLastRow(pos: number, rows: number): number {
  return pos < rows ? pos : rows - 1;
}

/** `4+60`, as the option takes it (for messages and headers). */
export function describeKvWindow(kv: KvWindow): string {
  return `${kv.sinks}+${kv.window}`;
}
