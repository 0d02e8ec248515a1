/** `npm run bench`: every benchmark of the project, one after the other (`npm run bench -- host` for one). */
import { benchEngine } from './engine.js';
import { benchFuzz } from './fuzz.js';
import { benchHost } from './host.js';
import { benchLibraryCores } from './library-cores.js';
import { benchPi } from './pi.js';
import { benchQuantize } from './quantize.js';
import { benchReport } from './report.js';
import { benchRp2040, benchRp2040Integer } from './rp2040.js';
import { benchRp2040Boot } from './rp2040-boot.js';
import { benchRp2040Usb } from './rp2040-usb.js';
import { benchRp2040Sampling } from './rp2040-sampling.js';
import { benchRp2040Stream } from './rp2040-stream.js';
import { benchRp2040Stories15M } from './rp2040-15m.js';
import { benchSamplingBlocks } from './sampling-blocks.js';
import { benchRp2040Tokenizer } from './rp2040-tokenizer.js';

const suites: Record<string, () => void | Promise<void>> = {
  engine: benchEngine,
  host: benchHost,
  quantize: benchQuantize,
  report: benchReport,
  rp2040: benchRp2040,
  'rp2040-integer': benchRp2040Integer,
  'rp2040-usb': benchRp2040Usb,
  'rp2040-sampling': benchRp2040Sampling,
  'rp2040-boot': benchRp2040Boot,
  'rp2040-stream': benchRp2040Stream,
  'rp2040-15m': benchRp2040Stories15M,
  'rp2040-tokenizer': benchRp2040Tokenizer,
  pi: benchPi,
  'library-cores': benchLibraryCores,
  fuzz: benchFuzz,
  'sampling-blocks': benchSamplingBlocks,
};
// a misspelled suite (`npm run bench -- hots`) is refused, not taken for "run them all"
const unknown = process.argv.slice(2).filter((a) => !(a in suites));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown suite ${unknown.join(', ')}; the suites are ${Object.keys(suites).join(', ')} (none named: all but rp2040-integer).\n`,
  );
  process.exit(2);
}
const chosen = process.argv.slice(2);
process.stdout.write(`llama2-embed benchmarks (node ${process.version}, ${process.arch})\n`);
// rp2040-integer is a subset of rp2040, run on its own
for (const name of chosen.length ? chosen : Object.keys(suites).filter((n) => n !== 'rp2040-integer')) await suites[name]();
