import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { KvRingJson, KvStatusJson } from '../node/kv-http.js';
import { formatRing, progressLine, ringShares } from './kv-command.js';
import type { CliIo } from './lifecycle.js';
import { runCli } from './run.js';

function io(): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return { stdout, stderr, env: {}, cwd: process.cwd(), out: () => out, err: () => err };
}

const ring = (nodes: [string, string[]][]): KvRingJson => ({
  node: 'a',
  rf: 3,
  nodes: nodes.map(([name, tokens]) => ({
    name,
    status: 'normal',
    resp: `127.0.0.1:74${name.length}`,
    tokens,
  })),
});

describe('cairn kv: formatting', () => {
  it('ring shares add up to the whole ring, each node owning the ranges that end at its tokens', () => {
    const quarter = 2n ** 62n;
    const shares = ringShares(
      ring([
        ['a', [String(quarter)]],
        ['b', [String(2n * quarter), String(3n * quarter)]],
      ]),
    );
    assert.equal(shares.get('a'), 0.5); // (3q, q] wraps: half the ring
    assert.equal(shares.get('b'), 0.5);
    assert.equal(ringShares(ring([['solo', ['5']]])).get('solo'), 1);
  });

  it('formats the ring as aligned rows, the asked node starred, names escaped', () => {
    const text = formatRing(
      ring([
        ['a', ['1']],
        ['b\u001b[2J', ['2']],
      ]),
    );
    assert.match(text, /^NAME\s+STATUS\s+RESP\s+TOKENS\s+OWNS\n/);
    assert.match(text, /^a \*\s+normal\s+127\.0\.0\.1:741\s+1\s+/m);
    assert.ok(!text.includes('\u001b'), 'no raw escape reaches the terminal');
    assert.match(text, /2 nodes, rf 3/);
  });

  it('draws a decommission progress bar from the status', () => {
    const base = { name: 'n', status: 'leaving', tokens: [], rf: 3, resp: '' } as unknown as KvStatusJson;
    assert.match(progressLine(base), /waiting to start/);
    const streaming = {
      ...base,
      streaming: {
        phase: 'streaming',
        operation: 'decommission',
        rangesTotal: 4,
        rangesDone: 1,
        cells: 10,
        bytes: 2 * 1024 * 1024,
      },
    } as KvStatusJson;
    assert.equal(progressLine(streaming, 8), '[##------] 1/4 ranges, 10 keys, 2.0 MiB (streaming)');
    // A removal's bar follows its own operation, not a decommission's.
    assert.match(progressLine(streaming, 8, 'removenode'), /waiting to start/);
    const removing = {
      ...streaming,
      streaming: { ...streaming.streaming!, operation: 'removenode' },
    } as KvStatusJson;
    assert.equal(
      progressLine(removing, 8, 'removenode'),
      '[##------] 1/4 ranges, 10 keys, 2.0 MiB (streaming)',
    );
  });
});

describe('cairn kv: command line', () => {
  it('answers usage errors with exit 2', async () => {
    for (const args of [
      ['kv', 'nope'],
      ['kv', 'get'],
      ['kv', 'set', 'k'],
      ['kv', 'get', 'k', '--consistency', 'TWO'],
      ['kv', 'scan', '--limit', '0'],
      ['kv', 'removenode'],
      ['kv', 'removenode', 'a', 'b'],
    ]) {
      const out = io();
      assert.equal(await runCli(args, out), 2, args.join(' '));
      assert.match(out.err(), /cairn: .*see "cairn help kv"/);
    }
  });

  it('prints its help', async () => {
    const out = io();
    assert.equal(await runCli(['kv', '--help'], out), 0);
    assert.match(out.out(), /cairn kv decommission/);
    assert.match(out.out(), /cairn kv removenode <node>/);
    const help = io();
    assert.equal(await runCli(['help', 'kv'], help), 0);
    assert.match(help.out(), /CAIRN_KV_TOKEN/);
  });

  it('says which node it could not reach (exit 1)', async () => {
    const out = io();
    assert.equal(await runCli(['kv', 'get', 'k', '--resp', '127.0.0.1:1'], out), 1);
    assert.match(out.err(), /cannot reach the node's RESP port at 127\.0\.0\.1:1/);
    const rm = io();
    assert.equal(await runCli(['kv', 'removenode', 'n3', '--http', '127.0.0.1:1'], rm), 1);
    assert.match(rm.err(), /cairn kv removenode: cannot reach the agent at http:\/\/127\.0\.0\.1:1/);
  });
});
