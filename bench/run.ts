/** `npm run bench`: every benchmark of the project, one after the other. */
import { benchEngine } from './engine.js';

process.stdout.write(`llama2-embed benchmarks (node ${process.version}, ${process.arch})\n`);
benchEngine();
