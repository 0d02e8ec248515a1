/**
 * The good files the fuzz cases start from, made once per process in a temporary directory:
 * copies of the real stories260K checkpoint and its tokenizers under their own names (the model
 * lookup is pointed at them, so the originals in /work/shared are never handed to a command), the same model as v1, v2 (Q8_0) and our own format
 * (Q4_0), and a tiny model with a 32000-token vocabulary. Good host builds, for the SIGKILL cases,
 * are made on first use.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { projectRoot } from '../../src/util/project-root.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { modelPath } from '../helpers/fixtures.js';
import { syntheticModel } from '../checkpoint/synthetic.js';
import { snapshot, type Snapshot } from './snapshot.js';

/** A good build directory and what it holds. */
export interface GoodBuild {
  dir: string;
  files: Snapshot;
}

/** Paths of the good inputs (all in `dir`), and the lazily made good builds. */
export interface Fixtures {
  dir: string;
  /** stories260K.bin as it is: llama2.c's legacy v0 format. */
  v0: string;
  v1: string;
  /** Q8_0, group size 4: llama2.c's version 2. */
  v2: string;
  /** Q4_0, our own format. */
  own: string;
  tok512: string;
  /** The Llama 2 tokenizer (32000 tokens). */
  tok32k: string;
  /** A tiny random model (dim 8) with vocab_size 32000, v1. */
  vocab32k: string;
  /** An environment for the command: the model lookup pointed at `dir`, a cache of our own. */
  env: NodeJS.ProcessEnv;
  /** `build --target host` of stories260K (fp32, tok512) into a directory of its own, made once. */
  build(kind: 'fp32' | 'q8_0'): Promise<GoodBuild>;
  cleanup(): void;
}

/** The command line that builds stories260K for the host with `quant` into `out`. */
export function buildArgs(fx: Fixtures, quant: 'fp32' | 'q8_0', out: string): string[] {
  return ['build', '--target', 'host', '-m', fx.v0, '-z', fx.tok512, ...(quant === 'q8_0' ? ['--quant', 'q8_0'] : []), '-o', out];
}

/** Runs the CLI to completion (fixture builds only), rejecting on a non-zero exit. */
function runToEnd(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'llama2-embed.js'), ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`fixture: llama2-embed ${args.join(' ')} exited ${code}:\n${stderr}`)),
    );
  });
}

/** Makes the fixtures (about a second; builds only when asked for). */
export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-fuzz-inputs-'));
  const path = (name: string) => join(dir, name);
  copyFileSync(modelPath('stories260K.bin'), path('stories260K.bin'));
  copyFileSync(modelPath('tok512.bin'), path('tok512.bin'));
  copyFileSync(modelPath('tokenizer.bin'), path('tokenizer.bin'));
  const model = readCheckpoint(path('stories260K.bin'));
  writeCheckpoint(path('v1.bin'), model, 'v1');
  writeCheckpoint(path('v2.bin'), quantizeModel(model, 'q8_0', { groupSize: 4 }).model, 'v2');
  writeCheckpoint(path('own.bin'), quantizeModel(model, 'q4_0').model, 'own');
  const tiny = syntheticModel({ dim: 8, hiddenDim: 16, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 32000, seqLen: 16 });
  writeCheckpoint(path('vocab32k.bin'), tiny, 'v1');
  const cache = path('cache');
  mkdirSync(cache);
  const env: NodeJS.ProcessEnv = { ...process.env, LLAMA2_EMBED_MODELS: dir, XDG_CACHE_HOME: cache, LLAMA2_EMBED_CACHE: cache };
  delete env.LLAMA2_EMBED_DEBUG;
  const builds = new Map<string, Promise<GoodBuild>>();
  const fx: Fixtures = {
    dir,
    v0: path('stories260K.bin'),
    v1: path('v1.bin'),
    v2: path('v2.bin'),
    own: path('own.bin'),
    tok512: path('tok512.bin'),
    tok32k: path('tokenizer.bin'),
    vocab32k: path('vocab32k.bin'),
    env,
    build(kind) {
      let made = builds.get(kind);
      if (!made) {
        const out = path(`build-${kind}`);
        made = runToEnd(buildArgs(fx, kind, out), env).then(() => ({ dir: out, files: snapshot(out) }));
        builds.set(kind, made);
      }
      return made;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return fx;
}
