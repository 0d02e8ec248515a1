/** `llama2-embed plan`: the memory plan for a model on a target, without building. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatPlan } from '../plan/format.js';
import { UserError } from '../util/errors.js';
import { buildRequest, withBuildOptions, type BuildArgs } from './build.js';

interface PlanArgs extends BuildArgs {
  json: boolean;
  embedTokenizer: boolean;
  prompt?: string;
}

export const planCommand: CommandModule<object, PlanArgs> = {
  command: 'plan',
  describe: 'print where every buffer of a model would live on a target, and whether it fits',
  builder: (y) =>
    withBuildOptions(y)
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'print the plan as JSON',
      })
      .option('embed-tokenizer', {
        type: 'boolean',
        default: false,
        describe: "firmware: count the tokenizer build --embed-tokenizer compiles in (its tables in flash, encode's scratch in SRAM)",
      })
      .option('prompt', {
        alias: 'i',
        type: 'string',
        describe: 'firmware with --embed-tokenizer: the prompt it encodes at reset (its ids take SRAM)',
      }) as unknown as Argv<PlanArgs>,
  handler: async (args: ArgumentsCamelCase<PlanArgs>) => {
    const { checkBuildOptions, planFor, sramCodeObjects } = await import('../toolchain/build.js');
    const request = { ...buildRequest(args), embedTokenizer: args.embedTokenizer, prompt: args.prompt };
    checkBuildOptions(request);
    const { plan, target } = planFor(request, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(args.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n`);
    const sramCode = sramCodeObjects(target, request);
    if (!args.json && plan.fits && sramCode.length > 0) {
      // the code's size is known once compiled: build measures it and plans again
      process.stdout.write(
        `  build also runs ${sramCode.join(', ')} from SRAM when it fits: their code, measured once compiled, comes out of the weights' copies (--no-sram-code keeps it in flash)\n`,
      );
    }
    // the exit status goes through main's return value (bin/llama2-embed.js sets it from there)
    if (!plan.fits) throw new UserError(`the model does not fit ${target.name}:\n${plan.problems.map((p) => `  - ${p}`).join('\n')}`, 1);
  },
};
