/**
 * Test fixtures: the real checkpoints and the llama2.c goldens, found through the same lookup as
 * the CLI (`$LLAMA2_EMBED_MODELS`, `../shared/models`, the model cache). Nothing here is committed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { locateModelFile, projectRoot } from '../../src/models/locate.js';

export function modelPath(name: 'stories260K.bin' | 'tok512.bin' | 'tokenizer.bin'): string {
  return locateModelFile(name);
}

export function goldenDir(): string {
  const candidates = [
    process.env.LLAMA2_EMBED_GOLDEN,
    resolve(projectRoot(), '..', 'shared', 'golden'),
    resolve(process.cwd(), '..', 'shared', 'golden'),
  ].filter((d): d is string => Boolean(d));
  const found = candidates.find((d) => existsSync(d));
  if (!found) throw new Error(`golden outputs not found; looked in ${candidates.join(', ')}`);
  return found;
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
