/**
 * The fuzz cases that fail today, each with the sentence of the issue it falls under. `npm test`
 * fails when a case that is not listed here fails, and reports (without failing) a listed case
 * that now passes: remove it from the list then. A name ending in `*` covers every case whose name
 * starts with what comes before it.
 */

/** A known failure: a case name (or a prefix followed by `*`) and the issue's words for it. */
export interface KnownFailure {
  pattern: string;
  issue: string;
}

// Empty: every case of the full set (npm run bench -- fuzz, 521 cases) ends in a clear error or a
// correct result. A case that fails from now on is a regression; list it here only with the words
// of the issue that will fix it.
export const KNOWN_FAILING: readonly KnownFailure[] = [];

/** Whether `name` is covered by `pattern`. */
export function matches(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** The known failure that covers `name`, if any. */
export function knownFailure(name: string, list: readonly KnownFailure[] = KNOWN_FAILING): KnownFailure | undefined {
  return list.find((k) => matches(name, k.pattern));
}
