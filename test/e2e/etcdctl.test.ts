/**
 * etcdctl (ETCDCTL_API=3) against Cairn's etcd API, and the same tests against a real etcd when
 * one is installed: the outputs etcdctl prints, errors included, must be the same.
 *
 * Targets: `CAIRN_ETCD_ENDPOINT` (a running Cairn) or else a `cairn dev` cluster of three store
 * members started here (`bench/_cairn-store.ts`); plus a real etcd started here (skipped with a reason when the
 * binary is missing; force with CAIRN_E2E_REAL_ETCD=1, which fails instead of skipping).
 *
 * Run: node --import tsx --test test/e2e/etcdctl.test.ts
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startCairnStore } from '../../bench/_cairn-store.js';
import { etcdMissingReason, startEtcd } from '../contract/etcd-process.js';

interface Target {
  endpoint: string;
  stop(): Promise<void>;
}

const etcdctlMissing =
  spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0
    ? undefined
    : 'no etcdctl on the PATH (Debian package etcd-client)';
/** Longest one etcdctl command may take. */
const COMMAND_TIMEOUT_MS = 10_000;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function etcdctl(endpoint: string, args: readonly string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      'etcdctl',
      [`--endpoints=${endpoint}`, '--command-timeout=5s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: COMMAND_TIMEOUT_MS },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function ok(endpoint: string, args: readonly string[], input?: string): Promise<string> {
  const r = await etcdctl(endpoint, args, input);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function describeEtcdctl(name: string, start: () => Promise<Target | string>): void {
  describe(`etcdctl against ${name}`, () => {
    let target: Target | undefined;
    let skip: string | undefined = etcdctlMissing;
    const p = `/e2e/${process.pid}-${Date.now()}/`;
    before(async () => {
      if (skip !== undefined) return;
      const t = await start();
      if (typeof t === 'string') skip = t;
      else target = t;
    });
    after(async () => target?.stop());
    const test = (title: string, fn: (ep: string) => Promise<void>) =>
      it(title, async (t) => {
        if (target === undefined) {
          t.skip(skip ?? 'no target');
          return;
        }
        await fn(target.endpoint);
      });

    test('put, get (prefix, limit, keys-only, json, rev), del', async (ep) => {
      assert.equal(await ok(ep, ['put', `${p}a`, '1']), 'OK\n');
      assert.equal(await ok(ep, ['put', `${p}b`, '2']), 'OK\n');
      assert.equal(await ok(ep, ['get', `${p}a`]), `${p}a\n1\n`);
      assert.equal(await ok(ep, ['get', p, '--prefix']), `${p}a\n1\n${p}b\n2\n`);
      assert.equal(await ok(ep, ['get', p, '--prefix', '--limit=1']), `${p}a\n1\n`);
      assert.equal(await ok(ep, ['get', p, '--prefix', '--keys-only']), `${p}a\n\n${p}b\n\n`);
      const json = JSON.parse(await ok(ep, ['get', p, '--prefix', '-w', 'json'])) as {
        header: { revision: number };
        kvs: { key: string; value: string; version: number }[];
        count: number;
      };
      assert.equal(json.count, 2);
      assert.equal(Buffer.from(json.kvs[1]!.value, 'base64').toString(), '2');
      const rev = json.header.revision;
      await ok(ep, ['put', `${p}b`, '3']);
      assert.equal(await ok(ep, ['get', `${p}b`, `--rev=${rev}`]), `${p}b\n2\n`);
      assert.equal(await ok(ep, ['del', `${p}a`]), '1\n');
      assert.equal(await ok(ep, ['get', `${p}a`]), '');
      const empty = await etcdctl(ep, ['put', '', 'x']);
      assert.notEqual(empty.code, 0);
    });

    test('txn from interactive input', async (ep) => {
      await ok(ep, ['put', `${p}t`, 'v1']);
      const input = `value("${p}t") = "v1"\n\nput ${p}t v2\n\nget ${p}t\n\n`;
      assert.equal(await ok(ep, ['txn'], input), 'SUCCESS\n\nOK\n');
      assert.equal(await ok(ep, ['get', `${p}t`]), `${p}t\nv2\n`);
      const again = await ok(ep, ['txn'], input);
      assert.equal(again, `FAILURE\n\n${p}t\nv2\n`);
    });

    test('watch replays from a revision and prints events', async (ep) => {
      const first = await ok(ep, ['put', `${p}w`, 'one', '-w', 'json']);
      const rev = (JSON.parse(first) as { header: { revision: number } }).header.revision;
      await ok(ep, ['put', `${p}w`, 'two']);
      await ok(ep, ['del', `${p}w`]);
      const child = spawn('etcdctl', [`--endpoints=${ep}`, 'watch', `${p}w`, `--rev=${rev}`], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      let out = '';
      const want = `PUT\n${p}w\none\nPUT\n${p}w\ntwo\nDELETE\n${p}w\n\n`;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`watch printed only: ${JSON.stringify(out)}`)),
          COMMAND_TIMEOUT_MS,
        );
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.length >= want.length) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill();
      assert.equal(out, want);
    });

    test('lease grant, put --lease, timetolive, keep-alive --once, revoke', async (ep) => {
      const grant = await ok(ep, ['lease', 'grant', '60']);
      const m = /^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/.exec(grant);
      assert.ok(m, grant);
      const id = m[1]!;
      assert.equal(await ok(ep, ['put', `${p}l`, 'v', `--lease=${id}`]), 'OK\n');
      const ttl = await ok(ep, ['lease', 'timetolive', id, '--keys']);
      assert.match(
        ttl,
        new RegExp(
          `^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[${p}l\\]\\)\\n$`,
        ),
      );
      assert.equal(
        await ok(ep, ['lease', 'keep-alive', '--once', id]),
        `lease ${id} keepalived with TTL(60)\n`,
      );
      assert.match(await ok(ep, ['lease', 'list']), new RegExp(id));
      assert.equal(await ok(ep, ['lease', 'revoke', id]), `lease ${id} revoked\n`);
      assert.equal(await ok(ep, ['get', `${p}l`]), '');
      assert.equal(await ok(ep, ['lease', 'timetolive', id]), `lease ${id} already expired\n`);
      const gone = await etcdctl(ep, ['lease', 'revoke', id]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /etcdserver: requested lease not found/);
    });

    test('member list and endpoint status', async (ep) => {
      assert.match(
        await ok(ep, ['member', 'list']),
        /^[0-9a-f]+, started, [^,]*, http[^,]+, http[^,]+, false\n/,
      );
      const status = await ok(ep, ['endpoint', 'status']);
      // One line per endpoint given, each starting with its endpoint.
      const lines = status.trimEnd().split('\n');
      assert.deepEqual(
        lines.map((l) => l.slice(0, l.indexOf(', '))),
        ep.split(','),
        status,
      );
      const json = JSON.parse(await ok(ep, ['endpoint', 'status', '-w', 'json'])) as {
        Status: { leader: number };
      }[];
      assert.ok(json[0]!.Status.leader !== 0);
    });

    test('compaction, then reading a compacted revision prints etcd’s error', async (ep) => {
      const out = await ok(ep, ['put', `${p}c`, 'x', '-w', 'json']);
      const rev = (JSON.parse(out) as { header: { revision: number } }).header.revision;
      assert.equal(await ok(ep, ['compaction', String(rev)]), `compacted revision ${rev}\n`);
      const r = await etcdctl(ep, ['get', `${p}c`, '--rev=1']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Error: etcdserver: mvcc: required revision has been compacted/);
    });
  });
}

describeEtcdctl(
  process.env.CAIRN_ETCD_ENDPOINT
    ? `Cairn at ${process.env.CAIRN_ETCD_ENDPOINT}`
    : 'Cairn (cairn dev: three store members)',
  async () => {
    const given = process.env.CAIRN_ETCD_ENDPOINT;
    if (given) return { endpoint: given, stop: async () => {} };
    const store = await startCairnStore();
    // Every command goes to all three members, as etcdctl users give every endpoint.
    return {
      endpoint: store.endpoints.map((e) => e.replace(/^http:\/\//, '')).join(','),
      stop: () => store.stop(),
    };
  },
);

describeEtcdctl('a real etcd', async () => {
  const missing = etcdMissingReason();
  if (missing !== undefined) {
    if (process.env.CAIRN_E2E_REAL_ETCD === '1') throw new Error(`CAIRN_E2E_REAL_ETCD=1 but ${missing}`);
    return missing;
  }
  const etcd = await startEtcd();
  return etcd === undefined ? 'etcd did not start' : etcd;
});
