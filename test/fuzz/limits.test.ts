import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS as STATE_LIMITS } from '../../src/membership/state/limits.js';
import {
  decodeStateMessage,
  encodeStateMessage,
  type NodeDelta,
} from '../../src/membership/state/messages.js';
import { encodeHeartbeatPayload } from '../../src/membership/state/records.js';
import { DEFAULT_LIMITS as RPC_LIMITS } from '../../src/rpc/limits.js';
import { decodeFrame, encodeBatch, encodeMessage, frameValidator } from '../../src/rpc/messages.js';
import { NodeIdentity, SIGNATURE_BYTES } from '../../src/security/index.js';

// The decode shape limits (core's maxDecodeItems, maxDecodeContainers) must admit the largest
// messages peers with default limits may send.
describe('decode shape limits admit the largest legitimate messages', () => {
  it('a Scuttlebutt SynAck at the state limits', () => {
    const node = NodeIdentity.fromSeed(new Uint8Array(32).fill(1)).nodeId;
    const n = STATE_LIMITS.maxDigestEntries;
    const entry = { node, generation: 1, maxVersion: 9, gcVersion: 0, heartbeat: 9 };
    const heartbeat = {
      version: 9,
      payload: Uint8Array.from(encodeHeartbeatPayload(1)),
      signature: new Uint8Array(SIGNATURE_BYTES),
    };
    const section: NodeDelta = { ...entry, fromVersion: 0, heartbeat, records: [] };
    const bytes = Uint8Array.from(
      encodeStateMessage({
        type: 'SynAck',
        digest: { partial: false, entries: new Array(n).fill(entry) },
        delta: new Array(Math.min(n, STATE_LIMITS.maxDeltaRecords)).fill(section),
      }),
    );
    assert.ok(bytes.length <= STATE_LIMITS.maxMessageBytes, `${bytes.length} bytes`);
    const message = decodeStateMessage(bytes);
    assert.equal(message?.type, 'SynAck');
  });

  it('an rpc batch of 65,535 messages, the most an encoder writes', () => {
    const messages = new Array(0xffff);
    for (let i = 0; i < messages.length; i++) {
      messages[i] = Uint8Array.from(encodeMessage({ type: 'cancel', id: i + 1 }));
    }
    const frame = encodeBatch(messages);
    const maxFrameBytes = RPC_LIMITS.maxPayloadBytes + RPC_LIMITS.maxBatchBytes;
    const decoded = decodeFrame(frame, frameValidator(RPC_LIMITS), maxFrameBytes);
    assert.equal(decoded.type === 'batch' ? decoded.messages.length : 0, 0xffff);
  });
});
