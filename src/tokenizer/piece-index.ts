/**
 * Finding a token by its text, as run.c does: it sorts the vocabulary with `strcmp` and looks a
 * string up with `bsearch`. Pieces are C strings there, so a piece ends at its first NUL byte
 * (tokenizer.bin stores none; tokenizer.py never writes one).
 *
 * Keys are "byte strings": a JS string with one char per byte (latin1), so that comparing two
 * keys with `<` is `strcmp` (unsigned bytes, a prefix first) and a Map can hold them.
 */

/** The C-string view of a piece as a byte-string key: its bytes up to the first NUL. */
export function pieceKey(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  const text = nul === -1 ? bytes : bytes.subarray(0, nul);
  let key = '';
  // chunked: String.fromCharCode takes its bytes as arguments
  for (let i = 0; i < text.length; i += 4096) key += String.fromCharCode(...text.subarray(i, i + 4096));
  return key;
}

/** The bytes of a byte-string key. */
export function keyBytes(key: string): Uint8Array {
  const bytes = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i);
  return bytes;
}

/**
 * Exact-match lookup of pieces. When two pieces are the same C string, run.c's answer depends on
 * how qsort ordered them and where bsearch probes first. We take a stable sort (equal pieces in id
 * order, which is what glibc's merge-sort qsort gives) and glibc's bsearch (probe the middle
 * `(lo + hi) / 2` of the remaining range), and precompute the id it lands on. Neither tok512.bin
 * nor tokenizer.bin has duplicate pieces, so for them any rule gives the same answer.
 */
export class PieceIndex {
  private readonly ids = new Map<string, number>();
  /** How many pieces can never be found because an equal piece shadows them. */
  readonly shadowedPieces: number;

  constructor(keys: readonly string[]) {
    const duplicated = new Set<string>();
    keys.forEach((key, id) => {
      if (this.ids.has(key)) duplicated.add(key);
      else this.ids.set(key, id);
    });
    this.shadowedPieces = keys.length - this.ids.size;
    if (duplicated.size > 0) {
      const sorted = keys.map((key, id) => ({ key, id })).sort((a, b) => compareKeys(a.key, b.key) || a.id - b.id);
      for (const key of duplicated) this.ids.set(key, bsearch(sorted, key));
    }
  }

  /** The id of the piece whose C string is `key`, or -1 (run.c's `str_lookup`). */
  find(key: string): number {
    return this.ids.get(key) ?? -1;
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** glibc's bsearch over the sorted vocabulary; `key` is known to be present. */
function bsearch(sorted: readonly { key: string; id: number }[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const order = compareKeys(key, sorted[mid].key);
    if (order < 0) hi = mid;
    else if (order > 0) lo = mid + 1;
    else return sorted[mid].id;
  }
  return -1;
}
