/**
 * `npm start`: builds when `dist/` is missing or older than `src/`, then runs `cairn dev` (3 nodes
 * unless other flags follow: `npm start -- --nodes 5`) in the foreground.
 *
 * SIGINT, SIGTERM and SIGHUP are forwarded to `cairn dev`, which stops its agents and exits; this
 * script then exits with its code. `cairn dev` runs with `--exit-with-parent` and a stdin pipe from
 * this script, so it (and through it every agent) also stops if this script is killed outright.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStale } from '../bin/freshness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'cli', 'main.js');

const stale = isStale(main, join(root, 'src'));
if (stale) {
  process.stderr.write('start: dist/ is missing or older than src/; building (npm run build)\n');
  // Under `npm start`, npm_execpath is npm's own CLI script: run it with this Node binary.
  const npmCli = process.env.npm_execpath;
  const build = npmCli
    ? spawnSync(process.execPath, [npmCli, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], {
        cwd: root,
        stdio: 'inherit',
      });
  if (build.status !== 0) {
    process.stderr.write(
      `start: the build failed (exit ${build.status ?? build.signal}); fix it and run npm start again\n`,
    );
    process.exit(1);
  }
}

const child = spawn(process.execPath, [main, 'dev', '--exit-with-parent', ...process.argv.slice(2)], {
  cwd: root,
  stdio: ['pipe', 'inherit', 'inherit'],
});
child.stdin.on('error', () => {});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on('exit', (code, signal) => {
  process.exit(
    code ?? (signal === null ? 1 : 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)),
  );
});
