import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import { decodeMemberAttributes, encodeMemberAttributes } from './applier.js';
import { decodeMemberContext, encodeMemberContext, MemberTable } from './members.js';

const meta = (name: string) => ({
  name,
  peerUrls: [`http://${name}:2380`],
  clientUrls: [`http://${name}:2379`],
});

describe('MemberTable', () => {
  it('keeps bootstrap metadata through context-less bootstrap entries, adds, promotes and removes', async () => {
    const storage = new MemoryStorage();
    const table = new MemberTable(storage);
    await table.bootstrap(42, [
      { id: 1, ...meta('a'), isLearner: false },
      { id: 2, ...meta('b'), isLearner: false },
    ]);
    await table.applyConfChange(1, { type: 'addNode', nodeId: 1 });
    await table.applyConfChange(2, { type: 'addNode', nodeId: 2 });
    assert.deepEqual(
      table.list().map((m) => [m.id, m.name, m.isLearner]),
      [
        [1, 'a', false],
        [2, 'b', false],
      ],
    );
    await table.applyConfChange(5, {
      type: 'addLearner',
      nodeId: 7,
      context: encodeMemberContext(meta('c')),
    });
    assert.equal(table.get(7)?.isLearner, true);
    assert.equal(table.learnerCount(), 1);
    // raft refuses demoting a voter to a learner; the table mirrors it.
    await table.applyConfChange(6, { type: 'addLearner', nodeId: 1 });
    assert.equal(table.get(1)?.isLearner, false);
    await table.applyConfChange(7, { type: 'addNode', nodeId: 7 });
    assert.deepEqual(table.get(7), { id: 7, ...meta('c'), isLearner: false });
    await table.applyConfChange(8, { type: 'removeNode', nodeId: 2 });
    assert.deepEqual(
      table.list().map((m) => m.id),
      [1, 7],
    );

    // Durable, and idempotent by index on replay.
    const again = new MemberTable(storage);
    await again.load();
    assert.deepEqual(again.list(), table.list());
    assert.equal(again.index, 8);
    assert.equal(again.clusterId, 42);
    assert.equal(await again.applyConfChange(7, { type: 'removeNode', nodeId: 7 }), false);
    assert.ok(again.get(7) !== undefined);
  });

  it('treats a malformed context as absent', () => {
    assert.equal(decodeMemberContext(Uint8Array.of(0xc1)), undefined);
    assert.equal(decodeMemberContext(encode({ name: 5 })), undefined);
    assert.deepEqual(decodeMemberContext(encodeMemberContext(meta('x'))), meta('x'));
  });

  it('takes published attributes: name and client URLs, peer URLs only when given', async () => {
    const table = new MemberTable(new MemoryStorage());
    await table.bootstrap(42, [{ id: 1, name: 'a', peerUrls: [], clientUrls: [], isLearner: false }]);
    const noPeers = decodeMemberAttributes(
      encodeMemberAttributes({ id: 1, name: 'a', clientUrls: ['http://a:2379'] }),
    );
    assert.deepEqual(noPeers, { id: 1, name: 'a', clientUrls: ['http://a:2379'] });
    await table.setAttributes(1, noPeers!);
    assert.deepEqual(table.get(1)?.peerUrls, []);
    const withPeers = decodeMemberAttributes(
      encodeMemberAttributes({
        id: 1,
        name: 'a',
        clientUrls: ['http://a:2379'],
        peerUrls: ['cairn://10.0.0.1:7946'],
      }),
    );
    await table.setAttributes(2, withPeers!);
    assert.deepEqual(table.get(1), {
      id: 1,
      name: 'a',
      peerUrls: ['cairn://10.0.0.1:7946'],
      clientUrls: ['http://a:2379'],
      isLearner: false,
    });
    await table.setAttributes(3, { id: 1, name: 'a', clientUrls: [], peerUrls: [] });
    assert.deepEqual(table.get(1)?.peerUrls, ['cairn://10.0.0.1:7946'], 'an empty list keeps the known URLs');
    await table.setAttributes(3, { id: 1, name: 'zzz', clientUrls: [] });
    assert.equal(table.get(1)?.name, 'a', 'an index already applied is skipped');
    assert.equal(
      decodeMemberAttributes(encode({ id: 1, name: 'a', clientUrls: [], peerUrls: 'x' })),
      undefined,
    );
  });
});
