/**
 * Test fixtures: the real checkpoints, found through the same lookup as the CLI
 * (`$LLAMA2_EMBED_MODELS`, `../shared/models`, the model cache; not committed), and llama2.c's
 * golden outputs, committed in test/fixtures/golden (see its README for where they came from).
 * A test that uses a model says so with `needs(...)` (./needs.ts), so that a missing model skips
 * it rather than crashing; call `modelPath` only inside hooks and tests, never at load time.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { locateModelFile } from '../../src/models/locate.js';
import { projectRoot } from '../../src/util/project-root.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';

/** The path of a model file (throws a UserError that says how to get it when it is not here). */
export function modelPath(name: 'stories260K.bin' | 'tok512.bin' | 'tokenizer.bin'): string {
  return locateModelFile(name);
}

/** stories260K's checkpoint and tokenizer, looked up when read (so at test time, not load time). */
export const stories260K = {
  get model(): string {
    return modelPath('stories260K.bin');
  },
  get tokenizer(): string {
    return modelPath('tok512.bin');
  },
};

const tokenizers = new Map<string, Tokenizer>();

/** tok512.bin (512 tokens) or Llama 2's tokenizer.bin (32000), read once; from hooks and tests only, after their needs. */
export function realTokenizer(name: 'tok512.bin' | 'tokenizer.bin'): Tokenizer {
  if (!tokenizers.has(name)) tokenizers.set(name, Tokenizer.read(modelPath(name), name === 'tok512.bin' ? 512 : 32000));
  return tokenizers.get(name)!;
}

/**
 * `LLAMA2_EMBED_MODELS` set to the directory the lookup finds stories260K.bin in, for child
 * processes that run elsewhere; nothing when it is not found (their own lookup then reports it).
 */
export function modelsEnv(): NodeJS.ProcessEnv {
  try {
    return { LLAMA2_EMBED_MODELS: dirname(modelPath('stories260K.bin')) };
  } catch {
    return {};
  }
}

/** The committed llama2.c goldens: test/fixtures/golden. */
export function goldenDir(): string {
  return join(projectRoot(), 'test', 'fixtures', 'golden');
}

export interface GoldenIds {
  prompt: number[];
  generated: number[];
}

/** Parses a golden `.ids` file: `P <id>` prompt lines, then `G <id>` generated lines. */
export function readGoldenIds(fileName: string): GoldenIds {
  const text = readFileSync(join(goldenDir(), fileName), 'utf8');
  const out: GoldenIds = { prompt: [], generated: [] };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [kind, id] = line.trim().split(/\s+/);
    (kind === 'P' ? out.prompt : out.generated).push(Number(id));
  }
  return out;
}

export function readGoldenFile(fileName: string): string {
  return readFileSync(join(goldenDir(), fileName), 'utf8');
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = 'llama2-embed-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
