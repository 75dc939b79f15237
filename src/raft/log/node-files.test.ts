/**
 * The LogFiles contract against the real filesystem (a temporary directory).
 * Run: node --import tsx --test src/raft/log/node-files.test.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLogFilesContract } from '../../../test/contract/log-files-contract.js';
import { NodeLogFiles } from './node-files.js';

describeLogFilesContract('node', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-logfiles-'));
  return {
    files: await NodeLogFiles.open(dir),
    restart: () => NodeLogFiles.open(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
