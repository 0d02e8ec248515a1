/**
 * The merge loop of run.c's `encode`: while some adjacent pair of tokens concatenates to a piece
 * of the vocabulary, replace the pair whose piece has the highest score by that piece. Ties go to
 * the leftmost pair (run.c keeps the first pair with a strictly greater score), and a piece scored
 * at or below run.c's starting `best_score` of -1e10 (as a float), or NaN, is never merged.
 *
 * run.c rescans every pair after each merge (quadratic in the prompt length). Here each pair is
 * looked up once, candidates wait in a priority queue ordered by (score, position), and a merge
 * only creates the two pairs next to it; stale candidates are recognised by version numbers.
 * Tokens keep their original order, so "leftmost" is the smallest original position: the choice
 * is run.c's at every step and the result is identical.
 */
import type { PieceIndex } from './piece-index.js';

/** What merging needs from the vocabulary. */
export interface MergeVocab {
  /** The C-string key of each piece (see piece-index.ts). */
  readonly keys: readonly string[];
  readonly scores: Float32Array;
  readonly index: PieceIndex;
}

/** run.c's `float best_score = -1e10;` */
const NEVER_MERGED_AT_OR_BELOW = Math.fround(-1e10);

interface Candidate {
  score: number;
  /** Position of the pair's left token in the original sequence. */
  left: number;
  right: number;
  leftVersion: number;
  rightVersion: number;
  merged: number;
}

/** `tokens` after run.c's merge loop, as described above: a new array (`tokens` is not changed). */
export function mergePairs(tokens: readonly number[], vocab: MergeVocab): number[] {
  const n = tokens.length;
  if (n < 2) return tokens.slice();
  // A doubly linked list over the original positions; a position's version changes whenever its
  // token changes or it is merged away, which makes every queued pair touching it stale.
  const id = Int32Array.from(tokens);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const version = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }

  const queue = new CandidateQueue();
  const consider = (left: number): void => {
    const right = left < 0 ? -1 : next[left];
    if (right < 0) return;
    const merged = vocab.index.find(vocab.keys[id[left]] + vocab.keys[id[right]]);
    if (merged === -1) return;
    const score = vocab.scores[merged];
    if (!(score > NEVER_MERGED_AT_OR_BELOW)) return;
    queue.push({ score, left, right, leftVersion: version[left], rightVersion: version[right], merged });
  };

  for (let i = 0; i < n - 1; i++) consider(i);
  for (let best = queue.pop(); best; best = queue.pop()) {
    const { left, right } = best;
    if (version[left] !== best.leftVersion || version[right] !== best.rightVersion) continue; // stale
    id[left] = best.merged;
    version[left]++;
    version[right]++;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    consider(prev[left]);
    consider(left);
  }

  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(id[i]); // position 0 is never merged away
  return out;
}

/** A binary max-heap of merge candidates: higher score first, then the leftmost. */
class CandidateQueue {
  private readonly heap: Candidate[] = [];

  push(c: Candidate): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(c);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(c, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = c;
  }

  pop(): Candidate | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && before(heap[r], heap[l]) ? r : l;
      if (!before(heap[child], last)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Candidate, b: Candidate): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}
