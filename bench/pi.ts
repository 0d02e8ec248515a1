/**
 * The Raspberry Pi programs under qemu-aarch64: guest instructions per token for each board target
 * and model size, for the product (kernels specialized for the model, dot_q8_rows4 in NEON, SDOT on
 * the Pi 5) against a baseline measured in the same run: the generic build of the same kernels
 * (shapes at run time, runq.c's one-row loops, which GCC vectorizes by itself); and between the two,
 * the specialized build in plain C (no intrinsics), which shows what the NEON builtin adds. Then
 * tokens/s per board estimated from those counts and the boards' clocks and memory bandwidth
 * (estimates until someone measures a board).
 *
 * Debian's qemu-user 7.2 has no instruction counter for user mode (-icount is system mode only, and
 * it ships no TCG plugins such as libinsn.so), so the count comes from qemu's own logs: `-d in_asm`
 * prints each translated block's instructions once, `-d exec` with `nochain` logs every execution
 * of a block; the sum over executions of each block's length is the number of guest instructions
 * run. The log goes through a FIFO and is counted as it is written.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { writeCheckpoint } from '../src/checkpoint/write.js';
import { locateModelFile } from '../src/models/locate.js';
import { loadTarget } from '../src/plan/target.js';
import { build, type BuildResult } from '../src/toolchain/build.js';
import { formatBytes } from '../src/util/progress.js';
import { randomModel, STORIES110M, STORIES15M } from '../test/helpers/random-model.js';

/** The boards, the CPU qemu emulates for each, and what the estimates assume about the real one. */
const BOARDS = [
  // clocks and caches: the Raspberry Pi product briefs and the SoCs' descriptions; bandwidth:
  // typical streaming-read figures for each board's memory (not measured here); IPC: an assumption
  // for int8 NEON code on each core
  { target: 'rpi-zero2', board: 'Pi Zero 2 W', cpu: 'cortex-a53', clockGHz: 1.0, ipc: 0.7, cores: 4, bandwidthGBs: [1, 2], cacheKiB: 512 },
  { target: 'rpi4', board: 'Pi 4', cpu: 'cortex-a72', clockGHz: 1.5, ipc: 1.5, cores: 4, bandwidthGBs: [4, 6], cacheKiB: 1024 },
  { target: 'rpi5', board: 'Pi 5', cpu: 'cortex-a76', clockGHz: 2.4, ipc: 2.5, cores: 4, bandwidthGBs: [8, 10], cacheKiB: 2048 },
] as const;

interface Variant {
  key: string;
  label: string;
  generic: boolean;
  /** Rebuilt with -DLLAMA2_EMBED_NO_INTRINSICS: dot_q8_rows4 is the portable loop, vectorized by GCC alone. */
  plain: boolean;
}

const VARIANTS: Variant[] = [
  { key: 'generic', label: 'generic, runq.c loops (baseline)', generic: true, plain: false },
  { key: 'plain', label: 'specialized, plain C', generic: false, plain: true },
  { key: 'specialized', label: 'specialized, NEON builtin (the product)', generic: false, plain: false },
];

interface ModelCase {
  name: string;
  checkpoint: string;
  tokenizer: string;
  prompt: string;
  /** The positions measured: instructions per token = (count at `to` - count at `from`) / positions between. */
  from: number;
  to: number;
  /** Variants counted (the biggest model: only the baseline and the product). */
  variants: string[];
}

/** Guest instructions qemu-aarch64 runs for `program args` (one thread), from its in_asm and exec logs. */
async function countInstructions(
  dir: string,
  cpu: string,
  program: string,
  args: string[],
): Promise<{ instructions: number; stdout: string }> {
  const fifo = join(dir, 'qemu-log.fifo');
  rmSync(fifo, { force: true });
  execFileSync('mkfifo', [fifo]);
  const child = spawn('qemu-aarch64', ['-cpu', cpu, '-d', 'in_asm,exec,nochain', '-D', fifo, program, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  // "IN: symbol", then one "0x<pc>:  <opcode>  <instruction>" line per instruction, then a blank line;
  // "Trace <cpu>: <host address> [<cs_base>/<pc>/<flags>/<cflags>] <symbol>" for each execution
  const blockLength = new Map<string, number>();
  let instructions = 0;
  let inBlock = false;
  let blockPc = '';
  let length = 0;
  const lines = createInterface({ input: createReadStream(fifo, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.startsWith('Trace ')) {
      const open = line.indexOf('/');
      const pc = line.slice(open + 1, line.indexOf('/', open + 1));
      const n = blockLength.get(pc);
      if (n === undefined) throw new Error(`qemu's log executes a block at ${pc} that it never listed`);
      instructions += n;
    } else if (line.startsWith('IN:')) {
      inBlock = true;
      length = 0;
    } else if (inBlock && line.startsWith('0x')) {
      if (length === 0) blockPc = line.slice(2, line.indexOf(':')).padStart(16, '0');
      length++;
    } else if (inBlock && line === '') {
      blockLength.set(blockPc, length);
      inBlock = false;
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`${program} under qemu-aarch64 -cpu ${cpu} exited with ${code}: ${stderr}`);
  return { instructions, stdout };
}

/**
 * Forward passes a `--format ids` run of `steps` made: one per position inside the prompt (all its
 * P lines are printed first, whatever the steps), then one per generated token (a G line each).
 */
function forwardsIn(stdout: string, steps: number): number {
  const lines = stdout.split('\n');
  const prompt = lines.filter((l) => l.startsWith('P ')).length;
  return Math.min(steps, prompt - 1) + lines.filter((l) => l.startsWith('G ')).length;
}

function argsFor(m: ModelCase, steps: number): string[] {
  return ['-i', m.prompt, '-n', String(steps), '-t', '0', '--format', 'ids', '--threads', '1'];
}

async function instructionsPerToken(dir: string, cpu: string, program: string, m: ModelCase): Promise<number> {
  const a = await countInstructions(dir, cpu, program, argsFor(m, m.from));
  const b = await countInstructions(dir, cpu, program, argsFor(m, m.to));
  const tokens = forwardsIn(b.stdout, m.to) - forwardsIn(a.stdout, m.from);
  if (tokens <= 0) throw new Error(`${program}: the longer run made no more forward passes (it met BOS early)`);
  return (b.instructions - a.instructions) / tokens;
}

/** Wall seconds per token under qemu (no logging), between the same positions: median of 3. */
function qemuSecondsPerToken(cpu: string, program: string, m: ModelCase): number {
  const timed = (steps: number) => {
    const start = performance.now();
    const r = spawnSync('qemu-aarch64', ['-cpu', cpu, program, ...argsFor(m, steps)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${program} failed under qemu: ${r.stderr}`);
    return { seconds: (performance.now() - start) / 1000, forwards: forwardsIn(r.stdout, steps) };
  };
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const a = timed(m.from);
    const b = timed(m.to);
    samples.push((b.seconds - a.seconds) / (b.forwards - a.forwards));
  }
  samples.sort((x, y) => x - y);
  return samples[1];
}

/** Rebuilds a generated project with extra C flags (the plain C build). */
function remake(result: BuildResult, target: string, extra: string[]): void {
  const cflags = [...loadTarget(target).toolchain.cflags, ...extra].join(' ');
  execFileSync('make', ['-C', result.outDir, 'clean'], { stdio: 'ignore' });
  execFileSync('make', ['-C', result.outDir, '-j2', `CFLAGS=${cflags}`], { stdio: 'ignore' });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ')}`).join('\n');
}

function available(command: string, args: string[]): boolean {
  return !spawnSync(command, args, { stdio: 'ignore' }).error;
}

export async function benchPi(): Promise<void> {
  process.stdout.write("\nRaspberry Pi programs under qemu-aarch64 (instructions per token counted from qemu's logs)\n");
  if (!available('qemu-aarch64', ['--version']) || !available('aarch64-linux-gnu-gcc', ['--version'])) {
    process.stdout.write(
      '  skipped: needs qemu-aarch64 and aarch64-linux-gnu-gcc (apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)\n',
    );
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-pi-'));
  try {
    const all = VARIANTS.map((v) => v.key);
    const models: ModelCase[] = [
      {
        name: 'stories260K',
        checkpoint: locateModelFile('stories260K.bin'),
        tokenizer: locateModelFile('tok512.bin'),
        prompt: 'Once upon a time',
        from: 16,
        to: 48,
        variants: all,
      },
    ];
    // qemu logging every block is slow: the big model is measured over one position, inside the
    // prompt so that it cannot end early (attention is ~2% of its work at position 100), and only
    // for the baseline and the product
    for (const [name, config, prompt, from, to, variants] of [
      ['random stories15M', STORIES15M, 'Once upon a time', 8, 16, all],
      ['random stories110M', STORIES110M, 'Once upon a time', 1, 2, ['generic', 'specialized']],
    ] as const) {
      const checkpoint = join(dir, `${name.replace(/ /g, '-')}.bin`);
      writeCheckpoint(checkpoint, randomModel(config, 1), 'v1');
      models.push({ name, checkpoint, tokenizer: locateModelFile('tokenizer.bin'), prompt, from, to, variants: [...variants] });
    }

    // rows are printed as they are measured (the whole run takes a while), in fixed columns
    const widths = [19, 10, 40, 10, 19, 12, 13];
    const printRow = (cells: string[]) =>
      process.stdout.write(`  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ')}\n`);
    printRow(['model, Q8_0', 'board', 'build', 'positions', 'instructions/token', 'vs baseline', 'qemu s/token']);
    const estimates: string[][] = [
      ['model, Q8_0', 'board', 'weights/token', 'compute-bound, 1 core', 'compute-bound, 4 cores', 'memory-bound', 'estimate'],
    ];
    for (const m of models) {
      for (const board of BOARDS) {
        let baseline = 0;
        let product = 0;
        let weightBytes = 0;
        for (const v of VARIANTS.filter((x) => m.variants.includes(x.key))) {
          const result = await build(
            {
              target: board.target,
              model: m.checkpoint,
              tokenizer: m.tokenizer,
              quant: 'q8_0',
              generic: v.generic,
              threads: 1,
              out: join(dir, `${m.name}-${board.target}-${v.key}`),
            },
            () => {},
          );
          if (v.plain) remake(result, board.target, ['-DLLAMA2_EMBED_NO_INTRINSICS']);
          const perToken = await instructionsPerToken(dir, board.cpu, result.info.executable, m);
          const seconds = qemuSecondsPerToken(board.cpu, result.info.executable, m);
          if (v.key === 'generic') baseline = perToken;
          if (v.key === 'specialized') {
            product = perToken;
            weightBytes = result.plan.weightsBytes;
          }
          const label = v.key === 'specialized' && board.target === 'rpi5' ? 'specialized, SDOT builtin (the product)' : v.label;
          printRow([
            m.name,
            board.target,
            label,
            `${m.from}-${m.to}`,
            `${(perToken / 1e6).toFixed(2)} M`,
            v.key === 'generic' ? 'baseline' : `${(baseline / perToken).toFixed(2)}× fewer`,
            `${(seconds * 1000).toFixed(1)} ms`,
          ]);
        }
        // weights that fit the last-level cache are not streamed from DRAM: compute bounds them,
        // somewhere between one core and all (a tiny model's matmuls are too short to split well)
        const perCore = (board.clockGHz * 1e9 * board.ipc) / product;
        const allCores = perCore * board.cores;
        const inCache = weightBytes <= board.cacheKiB * 1024;
        const [lo, hi] = board.bandwidthGBs.map((gbs) => (gbs * 1e9) / weightBytes);
        const estimate = inCache ? [perCore, allCores] : [Math.min(lo, allCores), Math.min(hi, allCores)];
        estimates.push([
          m.name,
          board.board,
          formatBytes(weightBytes),
          `${perCore.toFixed(0)} tok/s`,
          `${allCores.toFixed(0)} tok/s`,
          inCache ? `in the ${board.cacheKiB} KiB cache` : `${lo.toFixed(0)}-${hi.toFixed(0)} tok/s`,
          `~${estimate[0].toFixed(0)}-${estimate[1].toFixed(0)} tok/s`,
        ]);
      }
    }
    process.stdout.write("  (qemu s/token: wall time of the emulation on this machine, not a board's)\n");
    process.stdout.write('\nestimated tokens/s on the boards (not measured: see doc/raspberry-pi.md for the assumptions)\n');
    for (const b of BOARDS) {
      process.stdout.write(
        `  ${b.board}: ${b.cores}× ${b.cpu} at ${b.clockGHz} GHz, assumed ${b.ipc} instructions/cycle, ${b.bandwidthGBs[0]}-${b.bandwidthGBs[1]} GB/s streaming reads\n`,
      );
    }
    process.stdout.write(`${table(estimates)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
