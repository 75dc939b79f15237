import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli as runInProcess } from '../../src/cli/run.js';
import { HOST_MEASURED_FIELDS } from '../../src/cli/sim-membership/evaluate.js';
import { memoryIo, runCli } from './agent-helpers.js';

/**
 * `cairn sim membership`: one JSON line; the same seed replays the trace hash and every figure
 * but the host-measured ones, another seed changes the trace; usage errors exit 2.
 */

type Result = Record<string, unknown> & {
  trace_hash: string;
  nodes: number;
  join_converged_ms: number | null;
  update_converged_ms: number | null;
  detect_converged_ms: number | null;
  false_deaths: number;
  bytes_per_node_per_s: number;
  scheme: string;
};

const HOST_FIELDS = HOST_MEASURED_FIELDS;

describe('cairn sim membership', () => {
  it('prints one JSON line; the same seed replays, another seed differs', async () => {
    const args = (seed: string) => [
      'sim',
      'membership',
      '--nodes',
      '8',
      '--seed',
      seed,
      '--protocol',
      'test',
      '--json',
    ];
    const runs = [runCli(args('7')), runCli(args('7')), runCli(args('8'))];
    const results = await Promise.all(
      runs.map(async (proc) => {
        assert.equal((await proc.exit()).code, 0, proc.stderr());
        const lines = proc.stdoutLines.filter((l) => l !== '');
        assert.equal(lines.length, 1, lines.join('\n'));
        return JSON.parse(lines[0]!) as Result;
      }),
    );
    const [a, b, c] = results as [Result, Result, Result];
    assert.equal(a.nodes, 8);
    assert.equal(a.scheme, 'ed25519');
    // Every phase converged and was measured; nothing was declared dead that did not crash.
    assert.ok(typeof a.join_converged_ms === 'number' && a.join_converged_ms > 0, JSON.stringify(a));
    assert.ok(typeof a.update_converged_ms === 'number' && a.update_converged_ms > 0);
    assert.ok(typeof a.detect_converged_ms === 'number' && a.detect_converged_ms > 0);
    assert.equal(a.false_deaths, 0);
    assert.ok(a.bytes_per_node_per_s > 0);
    assert.equal(a.trace_hash, b.trace_hash);
    const replayable = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => !HOST_FIELDS.includes(k)));
    assert.deepEqual(replayable(a), replayable(b));
    assert.notEqual(a.trace_hash, c.trace_hash);
    assert.match(
      runs[0]!.stderr(),
      /^seed=7 \(replay: cairn sim membership --nodes 8 --seed 7 --protocol test --json\)/,
    );
  });

  const usage: [string[], RegExp][] = [
    [['sim', 'membership', '--detector', 'gossip'], /flag --detector must be one of swim, phi, got "gossip"/],
    [['sim', 'membership', '--lifeguard', 'yes'], /flag --lifeguard must be one of on, off, got "yes"/],
    [['sim', 'membership', '--nodes', '0'], /flag --nodes must be an integer 1-20000, got "0"/],
    [['sim', 'membership', '--loss', '1.5'], /flag --loss must be a number 0-1, got "1.5"/],
  ];
  for (const [args, pattern] of usage) {
    it(`cairn ${args.join(' ')} exits 2`, async () => {
      const io = memoryIo();
      assert.equal(await runInProcess(args, io), 2, io.err());
      assert.match(io.err(), pattern);
      assert.equal(io.out(), '');
    });
  }
});
