/**
 * What a test needs from the machine (a model file, an external tool), checked before it runs.
 * When something is missing the test is skipped with the reason, and the skip is counted for the
 * summary the root hooks print (./root-hooks.ts); under CI=true it fails with the reason instead,
 * since CI must run everything.
 *
 *   describe('the host program', () => {
 *     needs('stories260K.bin', 'tok512.bin', 'cc', 'make');   // skips (or fails) the whole describe
 *     ...
 *   });
 *   it('renders in Chromium', function () { requireNeeds(this, 'chromium'); ... });
 */
import {
  MODEL_FILES,
  TOOLS,
  findModelFile,
  findTool,
  pullCommands,
  toolRequirement,
  type ModelFileName,
  type ToolName,
} from '../../src/doctor/requirements.js';
import { bootRomAvailable, defaultBootRomPath } from '../../src/emulator/boot-rom.js';

/** A model file or an external tool a test needs. */
export type Need = ModelFileName | ToolName;

/** How to run the CLI in a clone without installing it (the README's quick start form). */
export const CLI_IN_A_CLONE = 'npm start --';

/** Whether this run is CI's, where a missing model or tool is a failure (CI set, and not "false"/"0"). */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CI) && !['false', '0'].includes(env.CI!.toLowerCase());
}

const cache = new Map<Need, string | undefined>();

/** Why `need` is not available here (one line, with the command that gets it), or undefined when it is. */
export function whyMissing(need: Need): string | undefined {
  if (!cache.has(need)) cache.set(need, check(need));
  return cache.get(need);
}

const isModel = (need: Need): need is ModelFileName => (MODEL_FILES as readonly string[]).includes(need);

function check(need: Need): string | undefined {
  if (isModel(need)) {
    if (findModelFile(need)) return undefined;
    return `${need} not found by the model lookup (get it: ${pullCommands([need], CLI_IN_A_CLONE).join(' && ')})`;
  }
  const tool = toolRequirement(need as ToolName);
  if (findTool(tool)) return undefined;
  return `${tool.name} is not installed (needed for ${tool.usedFor}; Debian: apt-get install ${tool.debianPackages.join(' ')})`;
}

/** Every model file and tool that is missing here, with its reason. */
export function missingNeeds(): { models: ModelFileName[]; tools: ToolName[] } {
  return {
    models: MODEL_FILES.filter((m) => whyMissing(m)),
    tools: TOOLS.map((t) => t.name as ToolName).filter((t) => whyMissing(t)),
  };
}

/** Tests skipped so far, by reason. */
export const skipped = new Map<string, number>();

/**
 * Skips the running test (from it() or beforeEach()) or all the tests of the suite (from
 * before()) when any of `list` is missing; under CI=true throws instead. Returns when all are here.
 */
export function requireNeeds(ctx: Mocha.Context, ...list: Need[]): void {
  const models = list.filter((n) => isModel(n) && whyMissing(n));
  const tools = list.filter((n) => !isModel(n) && whyMissing(n));
  if (models.length + tools.length === 0) return;
  const reasons = tools.map((t) => whyMissing(t)!);
  if (models.length === 1) reasons.unshift(whyMissing(models[0])!);
  if (models.length > 1)
    reasons.unshift(`${models.join(', ')} not found by the model lookup (get them: ${pullCommands(models, CLI_IN_A_CLONE).join(' && ')})`);
  skipOrFail(ctx, reasons.join('; '));
}

/**
 * The boot ROM's image (../shared/rp2040/bootrom-b1.bin, not committed: its license does not let
 * us): skips the test without it, or fails under CI=true, where ../shared is beside the clone.
 */
export function requireBootRom(ctx: Mocha.Context): void {
  if (bootRomAvailable()) return;
  skipOrFail(ctx, `the RP2040 boot ROM image is not at ${defaultBootRomPath()} (see ../shared/rp2040/README.md)`);
}

/** Skips the running test or suite with `reason`, counted for the summary; under CI=true throws it instead. */
function skipOrFail(ctx: Mocha.Context, reason: string): void {
  if (isCI()) throw new Error(`CI=true, and ${reason}`);
  const runnable = ctx.test as (Mocha.Runnable & { type?: string }) | undefined;
  const beforeAll = runnable?.type === 'hook' && /"before all" hook/.test(runnable.title);
  const count = beforeAll ? (runnable!.parent?.total() ?? 1) : 1;
  skipped.set(reason, (skipped.get(reason) ?? 0) + count);
  console.log(`      skipped${count > 1 ? ` (${count} tests)` : ''}: ${reason}`);
  ctx.skip();
}

/** Call inside describe(): before its tests run, `requireNeeds` for all of them. */
export function needs(...list: Need[]): void {
  before(function () {
    requireNeeds(this, ...list);
  });
}
