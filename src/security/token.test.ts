import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Caveat, TokenRequest } from './caveats.js';
import { RevocationList } from './revocation.js';
import {
  attenuate,
  formatToken,
  mintToken,
  parseToken,
  TOKEN_PREFIX,
  type Token,
  verifyToken,
} from './token.js';

const rootKey = new Uint8Array(32).fill(0x11);
const otherKey = new Uint8Array(32).fill(0x22);
const now = 1_700_000_000_000;

function check(
  token: Token | string,
  request: Omit<TokenRequest, 'nowMs'> & { nowMs?: number },
  keys = [rootKey],
) {
  return verifyToken(token, { rootKeys: keys, request: { nowMs: now, ...request } });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? 'NOT_A_CAIRN_ERROR';
  }
}

// Small vocabularies so that random caveats and requests often meet.
const ops = ['kv:read', 'kv:write', 'config:publish'];
const names = ['a', 'b', 'c'];
const audiences = ['rest', 'resp', 'etcd'];
const prefixes = ['', 'app1/', 'app1/x', 'app2/'];
const keys = ['app1/x1', 'app1/y', 'app2/z', 'other'];
const someOf = (items: string[]) =>
  fc.uniqueArray(fc.constantFrom(...items), { minLength: 1, maxLength: items.length });
const caveatArb: fc.Arbitrary<Caveat> = fc.oneof(
  fc.constantFrom(...prefixes).map((prefix): Caveat => ({ type: 'prefix', prefix })),
  someOf(ops).map((o): Caveat => ({ type: 'ops', ops: o })),
  someOf(names).map((apps): Caveat => ({ type: 'app', apps })),
  someOf(names).map((envs): Caveat => ({ type: 'env', envs })),
  someOf(audiences).map((a): Caveat => ({ type: 'audience', audiences: a })),
  fc.integer({ min: 0, max: 2000 }).map((atMs): Caveat => ({ type: 'expires', atMs })),
);
const requestArb: fc.Arbitrary<TokenRequest> = fc.record(
  {
    nowMs: fc.integer({ min: 0, max: 2000 }),
    op: fc.constantFrom(...ops),
    key: fc.constantFrom(...keys),
    app: fc.constantFrom(...names),
    env: fc.constantFrom(...names),
    audience: fc.constantFrom(...audiences),
  },
  { requiredKeys: ['nowMs'] },
);

/** The oracle: what a token with these caveats allows, written as plainly as possible. */
function modelAllows(caveats: readonly Caveat[], r: TokenRequest): boolean {
  return caveats.every((c) => {
    if (c.type === 'prefix') return r.key?.startsWith(c.prefix) === true;
    if (c.type === 'ops') return r.op !== undefined && c.ops.includes(r.op);
    if (c.type === 'app') return r.app !== undefined && c.apps.includes(r.app);
    if (c.type === 'env') return r.env !== undefined && c.envs.includes(r.env);
    if (c.type === 'audience') return r.audience !== undefined && c.audiences.includes(r.audience);
    return r.nowMs < c.atMs;
  });
}

function allows(token: Token, request: TokenRequest): boolean {
  return codeOf(() => verifyToken(token, { rootKeys: [rootKey], request })) === undefined;
}

describe('capability tokens', () => {
  it('mint, format, parse and verify; a root token allows everything', () => {
    const token = mintToken(rootKey, { location: 'cairn://prod' });
    const text = formatToken(token);
    assert.ok(text.startsWith(TOKEN_PREFIX));
    assert.deepEqual(parseToken(text), token);
    const verified = check(text, { op: 'kv:write', key: 'anything' });
    assert.equal(verified.id, token.id);
    assert.equal(verified.location, 'cairn://prod');
    assert.equal(verified.expiresAtMs, undefined);
    assert.match(token.id, /^[0-9a-f]{32}$/);
  });

  it('attenuates offline and the result is checked caveat by caveat', () => {
    const root = mintToken(rootKey);
    const reader = attenuate(root, [
      { type: 'ops', ops: ['kv:read'] },
      { type: 'prefix', prefix: 'app1/' },
      { type: 'expires', atMs: now + 1000 },
    ]);
    assert.equal(reader.id, root.id, 'attenuations share the family id');
    assert.equal(check(reader, { op: 'kv:read', key: 'app1/x' }).expiresAtMs, now + 1000);
    assert.throws(() => check(reader, { op: 'kv:write', key: 'app1/x' }), {
      code: 'TOKEN_DENIED',
      message: /operation "kv:write" is not among kv:read/,
    });
    assert.throws(() => check(reader, { op: 'kv:read', key: 'app2/x' }), {
      code: 'TOKEN_DENIED',
      message: /not under "app1\/"/,
    });
    assert.throws(() => check(reader, { op: 'kv:read', key: 'app1/x', nowMs: now + 1000 }), {
      code: 'TOKEN_EXPIRED',
    });
  });

  it('fails closed when the request does not name what a caveat restricts', () => {
    const t = mintToken(rootKey, {
      caveats: [
        { type: 'prefix', prefix: 'app1/' },
        { type: 'audience', audiences: ['resp'] },
      ],
    });
    assert.throws(() => check(t, { audience: 'resp' }), { code: 'TOKEN_DENIED', message: /names no key/ });
    assert.throws(() => check(t, { key: 'app1/a' }), { code: 'TOKEN_DENIED', message: /names no audience/ });
    assert.equal(check(t, { key: 'app1/a', audience: 'resp' }).id, t.id);
  });

  it('allows exactly what the plain model of its caveats allows', () => {
    fc.assert(
      fc.property(fc.array(caveatArb, { maxLength: 6 }), requestArb, (caveats, request) => {
        const token = mintToken(rootKey, { caveats });
        assert.equal(allows(token, request), modelAllows(caveats, request));
      }),
      { numRuns: 300 },
    );
  });

  it('attenuation only narrows: whatever the child allows, its parent allows', () => {
    fc.assert(
      fc.property(
        fc.array(caveatArb, { maxLength: 4 }),
        fc.array(caveatArb, { minLength: 1, maxLength: 4 }),
        requestArb,
        (parentCaveats, added, request) => {
          const parent = mintToken(rootKey, { caveats: parentCaveats });
          const child = attenuate(parent, added);
          if (allows(child, request)) assert.ok(allows(parent, request));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('detects any change to the text: never verifies, never throws anything but a token error', () => {
    const token = attenuate(mintToken(rootKey, { location: 'x' }), [
      { type: 'ops', ops: ['kv:read'] },
      { type: 'prefix', prefix: 'a/' },
    ]);
    const text = formatToken(token);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: text.length - 1 }),
        fc.constantFrom(...alphabet),
        (index, char) => {
          fc.pre(text[index] !== char);
          const changed = text.slice(0, index) + char + text.slice(index + 1);
          const code = codeOf(() => check(changed, { op: 'kv:read', key: 'a/b' }));
          assert.ok(code === 'TOKEN_MALFORMED' || code === 'TOKEN_INVALID', `got ${code}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('detects dropped, reordered or altered caveats, a changed id or location, and another root key', () => {
    const a: Caveat = { type: 'ops', ops: ['kv:read'] };
    const b: Caveat = { type: 'prefix', prefix: 'app1/' };
    const token = mintToken(rootKey, { caveats: [a, b], location: 'here' });
    const request = { op: 'kv:read', key: 'app1/x' };
    assert.equal(check(token, request).id, token.id);
    const variants: [string, Token][] = [
      ['dropped last caveat', { ...token, caveats: [a] }],
      ['dropped first caveat', { ...token, caveats: [b] }],
      ['reordered caveats', { ...token, caveats: [b, a] }],
      ['altered caveat', { ...token, caveats: [{ type: 'ops', ops: ['kv:read', 'kv:write'] }, b] }],
      ['changed id', { ...token, id: `${token.id.slice(0, 31)}${token.id[31] === '0' ? '1' : '0'}` }],
      ['changed location', { ...token, location: 'there' }],
      ['removed location', { id: token.id, caveats: token.caveats, signature: token.signature }],
    ];
    for (const [what, variant] of variants) {
      assert.throws(() => check(variant, request), { code: 'TOKEN_INVALID' }, what);
    }
    assert.throws(() => check(token, request, [otherKey]), { code: 'TOKEN_INVALID' });
    assert.throws(() => check(token, request, []), { code: 'TOKEN_INVALID' });
  });

  it('verifies under any of several root keys, or a root key looked up by id', () => {
    const token = mintToken(rootKey);
    assert.equal(check(token, {}, [otherKey, rootKey]).id, token.id);
    const lookup = (id: string) => (id === token.id ? rootKey : undefined);
    assert.equal(verifyToken(token, { rootKeys: lookup, request: { nowMs: now } }).id, token.id);
    const stranger = mintToken(rootKey);
    assert.throws(() => verifyToken(stranger, { rootKeys: lookup, request: { nowMs: now } }), {
      code: 'TOKEN_INVALID',
    });
  });

  it('is refused once its id is revoked, with every attenuation', () => {
    const revocations = new RevocationList();
    const root = mintToken(rootKey, { id: 'ab'.repeat(16) });
    const child = attenuate(root, [{ type: 'ops', ops: ['kv:read'] }]);
    const opts = {
      rootKeys: [rootKey],
      request: { nowMs: now, op: 'kv:read' },
      isRevoked: revocations.isRevoked,
    };
    assert.equal(verifyToken(child, opts).id, root.id);
    revocations.revoke(root.id);
    assert.throws(() => verifyToken(root, opts), { code: 'TOKEN_REVOKED' });
    assert.throws(() => verifyToken(child, opts), { code: 'TOKEN_REVOKED' });
  });

  it('expires at the earliest expires caveat, exclusive', () => {
    const t = mintToken(rootKey, {
      caveats: [
        { type: 'expires', atMs: now + 10 },
        { type: 'expires', atMs: now + 5 },
      ],
    });
    assert.equal(check(t, { nowMs: now + 4 }).expiresAtMs, now + 5);
    assert.throws(() => check(t, { nowMs: now + 5 }), { code: 'TOKEN_EXPIRED' });
    assert.throws(
      () => check(t, { nowMs: Number.NaN }),
      { code: 'TOKEN_EXPIRED' },
      'an unknown time fails closed',
    );
  });

  it('rejects malformed text and invalid caveats with TOKEN_MALFORMED', () => {
    const text = formatToken(mintToken(rootKey));
    const bad = [
      'Bearer x',
      `${TOKEN_PREFIX}`,
      `${TOKEN_PREFIX}!!!!`,
      text.replace(TOKEN_PREFIX, 'cairn2.'),
      `${text}A`,
      `${TOKEN_PREFIX}${'A'.repeat(5000)}`,
    ];
    for (const t of bad) assert.throws(() => parseToken(t), { code: 'TOKEN_MALFORMED' }, t.slice(0, 20));
    const body = Buffer.from(text.slice(TOKEN_PREFIX.length), 'base64url');
    body[0] = 2;
    assert.throws(() => parseToken(TOKEN_PREFIX + body.toString('base64url')), {
      code: 'TOKEN_MALFORMED',
      message: /version 2/,
    });
    const root = mintToken(rootKey);
    const invalidCaveats = [
      { type: 'nope' },
      null,
      { type: 'prefix', prefix: 7 },
      { type: 'ops', ops: [] },
      { type: 'ops', ops: ['kv:read\n'] },
      { type: 'expires', atMs: 1.5 },
      { type: 'app', apps: Array.from({ length: 65 }, (_, i) => `a${i}`) },
    ] as unknown as Caveat[];
    for (const c of invalidCaveats) {
      assert.throws(() => attenuate(root, [c]), { code: 'TOKEN_MALFORMED' }, JSON.stringify(c).slice(0, 40));
      assert.throws(() => check({ ...root, caveats: [c] }, {}), { code: 'TOKEN_MALFORMED' });
    }
    const many = Array.from({ length: 33 }, (): Caveat => ({ type: 'ops', ops: ['kv:read'] }));
    assert.throws(() => mintToken(rootKey, { caveats: many }), { code: 'TOKEN_MALFORMED' });
    assert.throws(() => mintToken(new Uint8Array(16)), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => mintToken(rootKey, { id: 'xyz' }), { code: 'TOKEN_MALFORMED' });
  });

  it('round-trips any valid token through its text', () => {
    fc.assert(
      fc.property(
        fc.array(caveatArb, { maxLength: 8 }),
        fc.string({ maxLength: 40 }),
        (caveats, location) => {
          fc.pre(!/\p{Cc}/u.test(location));
          const token = mintToken(rootKey, { caveats, location });
          const back = parseToken(formatToken(token));
          assert.deepEqual(back, token);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never repeats the token text or signature in an error', () => {
    const token = mintToken(rootKey, { caveats: [{ type: 'ops', ops: ['kv:read'] }] });
    const text = formatToken(token);
    const signatureHex = Buffer.from(token.signature).toString('hex');
    for (const keysTried of [[rootKey], [otherKey]]) {
      try {
        check(text, { op: 'kv:write' }, keysTried);
        assert.fail('expected an error');
      } catch (err) {
        const message = (err as Error).message;
        assert.ok(
          !message.includes(text.slice(TOKEN_PREFIX.length, 40)) && !message.includes(signatureHex),
          message,
        );
      }
    }
  });
});
