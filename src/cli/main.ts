import { processIo } from './lifecycle.js';
import { runCli } from './run.js';

/**
 * The `cairn` executable: runs the command line and exits with its code.
 *
 * Importing this module runs the CLI; `bin/cairn.js` imports it (built or through tsx), and tests
 * run it with `node --import tsx src/cli/main.ts <args>`. The explicit `process.exit` ends the
 * process even when a watcher (stdin, timers) still holds the event loop; every command has
 * flushed its output and logs before it returns.
 */
const code = await runCli(process.argv.slice(2), processIo());
process.exit(code);
