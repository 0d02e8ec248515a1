/**
 * `llama2-embed doctor`: checks what this machine has for building, running and testing
 * llama2-embed (the Node.js version, the model files the lookup finds, the external tools) and
 * prints what is missing with the commands that get it: the apt-get line for the tools, the
 * `pull` commands for the models. Exit status 0 when everything is here, 1 otherwise.
 */
import type { CommandModule } from 'yargs';
import {
  MINIMUM_NODE,
  MODEL_FILES,
  TOOLS,
  aptInstallLine,
  findModelFile,
  findTool,
  nodeIsRecentEnough,
  pullCommands,
  type ToolRequirement,
} from '../doctor/requirements.js';
import { modelCacheDir } from '../models/locate.js';
import { UserError } from '../util/errors.js';
import { formatTable } from '../util/table.js';

/** What doctor found: its text (for stdout) and how many requirements are missing. */
export interface DoctorReport {
  text: string;
  missing: number;
}

/** The `doctor` command for main.ts. */
export const doctorCommand: CommandModule = {
  command: 'doctor',
  describe: 'check this machine for what building, running and testing need (Node.js, models, tools)',
  handler: () => {
    const report = doctorReport();
    process.stdout.write(report.text);
    if (report.missing > 0) {
      throw new UserError(`doctor: ${report.missing} missing (listed above, with the commands that install them).`, 1);
    }
  },
};

/** What doctorReport looks at; the defaults are this process's. */
export interface DoctorInputs {
  /** PATH, LLAMA2_EMBED_MODELS, LLAMA2_EMBED_CACHE. */
  env?: NodeJS.ProcessEnv;
  /** Like process.version. */
  nodeVersion?: string;
  /** Where a model file is (default: the model lookup, src/models/locate.ts). */
  findModel?: (name: string, env: NodeJS.ProcessEnv) => string | undefined;
}

/** Checks the machine: the Node.js version, the model files, the tools. */
export function doctorReport(inputs: DoctorInputs = {}): DoctorReport {
  const { env = process.env, nodeVersion = process.version, findModel = findModelFile } = inputs;
  const nodeOk = nodeIsRecentEnough(nodeVersion);
  const models = MODEL_FILES.map((name) => ({ name, path: findModel(name, env) }));
  const tools = TOOLS.map((tool) => ({ tool, path: findTool(tool, env) }));
  const missingModels = models.filter((m) => !m.path).map((m) => m.name);
  const missingTools: ToolRequirement[] = tools.filter((t) => !t.path).map((t) => t.tool);

  const lines = [
    `Node.js ${nodeVersion}: ${nodeOk ? 'ok' : `too old, llama2-embed needs ${MINIMUM_NODE} or newer (https://nodejs.org)`}`,
    '',
    `Models (looked up in $LLAMA2_EMBED_MODELS, ../shared/models, then the model cache ${modelCacheDir(env)}):`,
    formatTable(
      [],
      models.map((m) => [m.path ? 'ok' : 'MISSING', m.name, m.path ?? 'not found']),
      { indent: '  ' },
    ),
    '',
    'Tools:',
    formatTable(
      [],
      tools.map((t) => [t.path ? 'ok' : 'MISSING', t.tool.name, t.path ?? `Debian: ${t.tool.debianPackages.join(' ')}`, t.tool.usedFor]),
      { indent: '  ' },
    ),
    '',
  ];
  if (missingTools.length > 0) lines.push('To install the missing tools (Debian/Ubuntu):', `  ${aptInstallLine(missingTools)}`, '');
  if (missingModels.length > 0) {
    lines.push(
      'To get the missing models (in a clone without npm link, write npm start -- for llama2-embed):',
      ...pullCommands(missingModels).map((c) => `  ${c}`),
      '',
    );
  }
  const missing = (nodeOk ? 0 : 1) + missingModels.length + missingTools.length;
  lines.push(
    missing === 0
      ? 'Everything is here: npm test can run every test.'
      : `${missing} missing: the tests that need them are skipped (and fail under CI=true).`,
  );
  return { text: `${lines.join('\n')}\n`, missing };
}
