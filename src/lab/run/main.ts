import { labMain } from './cli.js';

/**
 * Entry of `npm run lab` (`node --import tsx src/lab/run/main.ts <workload> ...`): runs the lab and
 * exits with its code (see cli.ts).
 */
process.exit(await labMain(process.argv.slice(2)));
