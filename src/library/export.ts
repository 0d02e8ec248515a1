/**
 * `export`: the model as a C library for an ecosystem (formats/) and a core (cores.ts): the plan
 * (made for the board's memories with --board (boards.ts), refused when it does not fit; else for
 * the host target, which has no memory limit), the sources (sources.ts), the package files and an
 * example. Written into a staging directory beside the
 * output directory and renamed into place once complete, export-info.json last, so that an
 * existing output directory is only ever replaced as a whole.
 */
import type { KvWindow } from '../engine/kv-window.js';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import type { Arithmetic } from '../plan/plan.js';
import type { QuantScheme } from '../quant/schemes.js';
import { loadTarget } from '../plan/target.js';
import { planFor } from '../toolchain/build.js';
import { makeStagingDir, replaceDir } from '../toolchain/output-dir.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { APPLICATION_FLASH_BYTES, APPLICATION_RAM_BYTES, boardByName, boardTarget, type LibraryBoard } from './boards.js';
import { coreByName, type LibraryCore } from './cores.js';
import { formatByName } from './formats/index.js';
import type { LibraryFormat } from './formats/format.js';
import { apiState, emitLibrarySources, LIBRARY_SOURCES, type LibrarySummary } from './sources.js';

/** What `export` is asked for: the command line's options. */
export interface ExportRequest {
  format: string;
  /** The core the kernels and flags are for (cores.ts; default: the board's, else generic). */
  core?: string;
  /** A board whose memories the library must fit (boards.ts). */
  board?: string;
  model?: string;
  tokenizer?: string;
  quant?: QuantScheme;
  groupSize?: number;
  arithmetic?: Arithmetic;
  seqLen?: number;
  /** A bounded KV cache (--kv-window); default the exact one. */
  kvWindow?: KvWindow;
  out?: string;
}

/** What `export` wrote. */
export interface ExportResult {
  outDir: string;
  format: LibraryFormat;
  core: LibraryCore;
  board?: LibraryBoard;
  summary: LibrarySummary;
  seqLen: number;
}

/** Written last: its presence means the export finished, and marks a directory export may replace. */
export const EXPORT_INFO = 'export-info.json';

/** Where `export --format <format>` writes when not given -o: build/library-<format>, relative to the working directory. */
export function defaultExportDir(format: string): string {
  return resolve('build', `library-${format}`);
}

/**
 * The mistakes that can be told before anything is loaded: the format, the core, the board (and
 * a core that is not the board's), and the output directory.
 */
export function checkExportRequest(req: ExportRequest): {
  format: LibraryFormat;
  core: LibraryCore;
  board?: LibraryBoard;
  outDir: string;
} {
  const format = formatByName(req.format);
  const board = req.board === undefined ? undefined : boardByName(req.board);
  const core = coreByName(req.core ?? board?.core ?? 'generic');
  if (board && core.name !== board.core) {
    throw new UserError(
      `--core ${core.name} is not ${board.name}'s core: that board has a ${board.core}. Leave --core out (the board's is used), or give the board of that core.`,
      2,
    );
  }
  const outDir = resolve(req.out ?? defaultExportDir(format.name));
  checkExportDir(outDir);
  return { format, core, board, outDir };
}

/** An output path export may write: new, an empty directory, or one an earlier export wrote. */
function checkExportDir(outDir: string): void {
  if (!existsSync(outDir)) return;
  const stat = lstatSync(outDir);
  if (!stat.isDirectory()) {
    throw new UserError(
      `${outDir} exists and is ${stat.isSymbolicLink() ? 'a symbolic link' : 'a file'}, but export writes a directory there. Give -o a new directory, or remove ${outDir}.`,
      2,
    );
  }
  const names = readdirSync(outDir);
  if (names.length > 0 && !names.includes(EXPORT_INFO)) {
    throw new UserError(
      `${outDir} is a directory with other files in it, not one that llama2-embed export wrote; export replaces its output directory as a whole. ` +
        `Give -o a new directory (e.g. ${join(outDir, 'llama2_embed')}), or empty ${outDir}.`,
      2,
    );
  }
}

function toolVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * `export`: the model (and tokenizer) as a C library in one of the known formats, written to a
 * staging directory and moved into place once complete, export-info.json last. Bad input (format,
 * output directory, model, options) is a UserError, raised before anything is written.
 */
export function exportLibrary(req: ExportRequest): ExportResult {
  const { format, core, board, outDir } = checkExportRequest(req);
  // the format's defaults (pico-sdk: Q8_0 and the integer kernels, as the rp2040 target), then the
  // core's (without an FPU: Q8_0 and the integer kernels); integer arithmetic only on Q8_0
  const coreDefaults = core.fpu ? undefined : ({ quant: 'q8_0', arithmetic: 'integer' } as const);
  const quant = req.quant ?? format.defaults?.quant ?? coreDefaults?.quant;
  const arithmetic = req.arithmetic ?? (quant === 'q8_0' ? (format.defaults?.arithmetic ?? coreDefaults?.arithmetic) : undefined);
  const { loaded, plan } = planFor(
    {
      target: 'host',
      model: req.model,
      tokenizer: req.tokenizer,
      quant,
      groupSize: req.groupSize,
      arithmetic,
      seqLen: req.seqLen,
      kvWindow: req.kvWindow,
      sramWeights: false, // the library reads its weights in place: no SRAM copies at start-up
      threads: 1, // the library runs on its caller's thread (parallel-none.c)
    },
    () => {},
    { target: board ? boardTarget(board) : loadTarget('host'), extraState: apiState },
  );
  if (!plan.fits) {
    // refused before anything is written, with what would fit
    throw new UserError(
      `the library does not fit ${board ? `${board.name} (${board.description}; the application keeps ${APPLICATION_FLASH_BYTES / 1024} KB of its flash and ${APPLICATION_RAM_BYTES / 1024} KB of its RAM)` : 'this machine'}:\n${plan.problems.map((p) => `  - ${p}`).join('\n')}`,
      2,
    );
  }
  const version = toolVersion();
  const tool = `llama2-embed ${version}`;
  const modelName = basename(loaded.modelPath);
  const precision = `${plan.weights}${plan.groupSize ? `, group size ${plan.groupSize}` : ''}${plan.arithmetic === 'integer' ? ', integer arithmetic' : ''}`;
  const generated = (what: string) =>
    `/*\n * ${what}\n * Generated by ${tool} from ${modelName} (${precision}, seq_len ${plan.seqLen}) for the library (export --format ${format.name}).\n * Do not edit: run llama2-embed export again.\n */`;

  const staging = makeStagingDir(outDir);
  try {
    const summary = emitLibrarySources(
      { includeDir: join(staging, format.includeDir), srcDir: join(staging, format.srcDir) },
      { plan, model: loaded.model, modelName, tokenizerImage: readFileSync(loaded.tokenizerPath), generated },
    );
    const files = format.packageFiles({ name: 'llama2_embed', version, tool, modelName, sources: LIBRARY_SOURCES, summary, core });
    for (const [path, text] of Object.entries(files)) writeText(join(staging, path), text);
    const info = {
      tool,
      format: format.name,
      core: core.name,
      board: board?.name ?? null,
      model: loaded.modelPath,
      tokenizer: loaded.tokenizerPath,
      plan: {
        weights: plan.weights,
        groupSize: plan.groupSize,
        arithmetic: plan.arithmetic,
        seqLen: plan.seqLen,
        weightsBytes: summary.weightsBytes,
        stateBytes: summary.stateBytes,
      },
      modelHash: summary.modelHash,
    };
    writeText(join(staging, EXPORT_INFO), `${JSON.stringify(info, null, 2)}\n`);
    replaceDir(staging, outDir);
    return { outDir, format, core, board, summary, seqLen: plan.seqLen };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, [Buffer.from(text, 'utf8')]);
}
