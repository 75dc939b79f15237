import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/index.js';
import { runCommand } from '../../src/lab/hosts/command.js';
import { labUnavailableReason, sweep } from '../../src/lab/hosts/network.js';
import { formatReport } from '../../src/lab/run/cli.js';
import { runLab } from '../../src/lab/run/run-lab.js';

/**
 * The lab's short sweep (`npm run test:lab`, run by .ci/run): the membership, store and kv workloads
 * with every fault on real agents in network namespaces (one after the other: two runs at once on
 * two cores would starve each other's agents), and the lab's promise to leave nothing behind after
 * a run, a Ctrl-C, or a SIGKILL of the lab itself. Skipped, with the reason, where namespaces
 * cannot be made (not root, no nft).
 *
 * Seed 1 by default; another: CAIRN_LAB_SEED=<seed> npm run test:lab, or CAIRN_LAB_SEED=random
 * (the seed is in the test's name; the `repeat:` line of a failure reruns the same schedule).
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const skip = (await labUnavailableReason()) ?? false;
if (skip !== false) process.stdout.write(`# lab tests skipped: ${skip}\n`);
// A fixed seed by default: CI should fail for a change, not for the luck of the draw (the lab finds
// real protocol behaviour under compound faults, see src/lab/DESIGN.md). CAIRN_LAB_SEED=random explores.
const seedEnv = process.env.CAIRN_LAB_SEED ?? '1';
const seed = seedEnv === 'random' ? Rng.randomSeed() : Number(seedEnv);

/** Namespaces and links of the lab's run `octet` that exist now. */
async function leftovers(octet: number): Promise<string[]> {
  const ns = (await runCommand('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`cairnlab-${octet}-`));
  const links = (await runCommand('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => new RegExp(`^clab${octet}(br|v\\d+)$`).test(n));
  return [...ns, ...links];
}

/** Agent processes whose command line names `dataRoot`. */
async function agentsUnder(dataRoot: string): Promise<string[]> {
  const ps = await runCommand('ps', ['-eo', 'pid,args']);
  return ps.stdout.split('\n').filter((l) => l.includes(' agent ') && l.includes(dataRoot));
}

/** Starts `npm run lab` as a child; resolves with the octet once its agents answer. */
function startLab(
  stateRoot: string,
  args: string[],
): { child: ChildProcess; ready: Promise<number>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/lab/run/main.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, TMPDIR: stateRoot },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let octet = -1;
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the lab did not start its agents in 90 s:\n${stderr}`)),
      90_000,
    );
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /network 10\.77\.(\d+)\.0\/24/.exec(stderr);
      if (m !== null) octet = Number(m[1]);
      if (/every node lists all/.test(stderr)) {
        clearTimeout(timer);
        resolve(octet);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`the lab exited early:\n${stderr}`));
    });
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exit };
}

describe('fault lab', { skip }, () => {
  it(`membership with every fault on 3 real agents is valid (seed=${seed})`, {
    timeout: 240_000,
  }, async () => {
    const logRoot = mkdtempSync(join(tmpdir(), 'cairn-lab-test-'));
    const report = await runLab({
      workload: 'membership',
      nodes: 3,
      nemesis: ['partition', 'loss', 'kill', 'pause', 'skew'],
      durationS: 40,
      seed,
      lossPercent: 10,
      preset: 'local',
      maxSkewMs: 60_000,
      logRoot,
      progress: () => {},
      signal: new AbortController().signal,
    });
    const text = formatReport(report);
    assert.equal(
      report.outcome,
      'valid',
      `seed=${seed}\n${text}replay: CAIRN_LAB_SEED=${seed} npm run test:lab`,
    );
    const faults = report.figures.faults as Record<string, number>;
    assert.ok(Object.values(faults).reduce((a, b) => a + b, 0) >= 3, `seed=${seed}: too few faults\n${text}`);
    assert.deepEqual(report.cleanupProblems, []);
    assert.match(text, /log: .*cairn-lab-test-/);
  });

  it(`store with every fault on 3 real agents: linearizable, no acknowledged write lost (seed=${seed})`, {
    timeout: 240_000,
  }, async () => {
    const logRoot = mkdtempSync(join(tmpdir(), 'cairn-lab-test-'));
    const report = await runLab({
      workload: 'store',
      nodes: 3,
      nemesis: ['partition', 'loss', 'kill', 'pause', 'skew'],
      durationS: 25,
      seed,
      lossPercent: 10,
      preset: 'local',
      maxSkewMs: 60_000,
      logRoot,
      progress: () => {},
      signal: new AbortController().signal,
    });
    const text = formatReport(report);
    const replay = `seed=${seed}\n${text}replay: CAIRN_LAB_SEED=${seed} npm run test:lab`;
    assert.equal(report.outcome, 'valid', replay);
    const faults = report.figures.faults as Record<string, number>;
    assert.ok(Object.values(faults).reduce((a, b) => a + b, 0) >= 3, `too few faults\n${replay}`);
    // The run checked something: writes were acknowledged, and every node was read at the end.
    assert.ok((report.figures.acknowledgedWrites as number) >= 50, `too few acknowledged writes\n${replay}`);
    assert.deepEqual(report.figures.finalReads, { nodes: 3, failed: 0, agree: 1 }, replay);
    assert.equal((report.figures.checker as { result: string }).result, 'ok', replay);
    assert.deepEqual(report.cleanupProblems, []);
  });

  it(`kv with every fault on 3 real agents: no acknowledged QUORUM write lost, nodes agree (seed=${seed})`, {
    timeout: 240_000,
  }, async () => {
    const logRoot = mkdtempSync(join(tmpdir(), 'cairn-lab-test-'));
    const report = await runLab({
      workload: 'kv',
      nodes: 3,
      nemesis: ['partition', 'loss', 'kill', 'pause', 'skew'],
      durationS: 30,
      seed,
      lossPercent: 10,
      preset: 'local',
      maxSkewMs: 60_000,
      logRoot,
      progress: () => {},
      signal: new AbortController().signal,
    });
    const text = formatReport(report);
    const replay = `seed=${seed}\n${text}replay: CAIRN_LAB_SEED=${seed} npm run test:lab`;
    assert.equal(report.outcome, 'valid', replay);
    const faults = report.figures.faults as Record<string, number>;
    assert.ok(Object.values(faults).reduce((a, b) => a + b, 0) >= 3, `too few faults\n${replay}`);
    // The run checked something: writes were acknowledged, and every key was read back through
    // every node at ONE, ALL and QUORUM.
    assert.ok((report.figures.acknowledgedWrites as number) >= 50, `too few acknowledged writes\n${replay}`);
    const final = report.figures.finalReads as { reads: number; nodesFailed: number };
    assert.equal(final.nodesFailed, 0, replay);
    // (Keys handed out but never used yet are read too.)
    assert.ok(final.reads >= (report.figures.keys as number) * 3 * 3, replay);
    assert.deepEqual(report.cleanupProblems, []);
  });

  it('leaves nothing behind after Ctrl-C, and a run after a SIGKILLed one sweeps what it left', {
    timeout: 240_000,
  }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cairn-lab-kill-'));
    const args = ['membership', '--nodes', '2', '--nemesis', 'pause', '--duration', '600', '--seed', '5'];

    // Ctrl-C: the lab heals, tears down, exits 130.
    const interrupted = startLab(tmp, args);
    const octetA = await interrupted.ready;
    assert.ok((await leftovers(octetA)).length > 0, 'a running lab has namespaces');
    interrupted.child.kill('SIGINT');
    assert.equal(await interrupted.exit, 130);
    assert.deepEqual(await leftovers(octetA), []);
    assert.deepEqual(await agentsUnder(tmp), []);

    // SIGKILL: nothing can clean up; the next start's sweep does.
    const killed = startLab(tmp, args);
    const octetB = await killed.ready;
    killed.child.kill('SIGKILL');
    await killed.exit;
    assert.ok((await leftovers(octetB)).length > 0, 'a SIGKILLed lab leaves its namespaces');
    const swept = await sweep(join(tmp, 'cairn-lab-state'));
    assert.ok(swept.includes(octetB), `swept ${swept.join(',')}`);
    assert.deepEqual(await leftovers(octetB), []);
    assert.deepEqual(await agentsUnder(tmp), []);
  });
});
