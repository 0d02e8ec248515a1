/** One measurement of bench/quantize.ts in a fresh process, so that peak memory is its own. */
import { readCheckpoint } from '../src/checkpoint/read.js';
import { quantizeCheckpoint } from '../src/cli/quantize.js';

const [mode, input, output, quant] = process.argv.slice(2);
const started = performance.now();
if (mode === 'read') readCheckpoint(input);
else quantizeCheckpoint({ input, output, quant: quant as 'q8_0', format: 'auto', quiet: true });
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
