import { describe, it } from 'node:test';
import { decodePexMessage, encodePexMessage } from '../../src/membership/pex/messages.js';
import {
  decodeStateMessage,
  encodeStateMessage,
  type StateMessage,
} from '../../src/membership/state/messages.js';
import {
  decodeStatePayload,
  encodeHeartbeatPayload,
  encodeKvPayload,
} from '../../src/membership/state/records.js';
import { decodeCompound, encodeCompound } from '../../src/membership/swim/compound.js';
import {
  decodeSwimMessage,
  encodeSwimMessage,
  isBroadcastMessage,
  makeAliveRecord,
  makeDeadRecord,
  makeLeaveRecord,
  makeSuspectRecord,
  openBroadcast,
  type SwimMessage,
} from '../../src/membership/swim/messages.js';
import { SYNC_FRAME_BYTES } from '../../src/membership/sync/session.js';
import {
  decodeDirect,
  decodePiggyback,
  encodePiggyback,
  encodeSyncFrame,
  syncFrameDecoder,
} from '../../src/membership/wire.js';
import { NodeIdentity, SIGNATURE_BYTES, signRecord, simulatedScheme } from '../../src/security/index.js';
import { DECODE_ERRORS, encoded, fuzzDecoder } from './harness.js';

// Records are signed with the simulator's scheme: a hostile peer signs what it sends with its own
// key anyway, and the cheap scheme keeps 100,000 cases fast.
const alice = NodeIdentity.fromSeed(new Uint8Array(32).fill(1));
const bob = NodeIdentity.fromSeed(new Uint8Array(32).fill(2));
const scheme = simulatedScheme;
const alive = makeAliveRecord(
  alice,
  { generation: 1, incarnation: 2, address: '127.0.0.1:7000', name: 'a' },
  scheme,
);
const leave = makeLeaveRecord(alice, { generation: 1, incarnation: 3 }, scheme);
const accusation = { target: bob.nodeId, generation: 1, incarnation: 1 };
const suspect = makeSuspectRecord(alice, accusation, scheme);
const dead = makeDeadRecord(alice, accusation, scheme);
const kv = signRecord(alice, 4, Uint8Array.from(encodeKvPayload(1, 'role', 'db')), scheme);

const swimMessages: SwimMessage[] = [
  { type: 'Ping', seq: 1, target: bob.nodeId, from: alice.nodeId },
  { type: 'PingReq', seq: 2, target: bob.nodeId, targetAddress: '127.0.0.1:7001', from: alice.nodeId },
  { type: 'Ack', seq: 1, from: bob.nodeId, needAlive: true, members: 3 },
  { type: 'Nack', seq: 2, from: bob.nodeId },
  { type: 'Alive', record: alive },
  { type: 'Leave', record: leave },
  { type: 'Suspect', record: suspect },
  { type: 'Dead', record: dead },
  { type: 'User', data: Uint8Array.from(encodePiggyback({ k: 'kv', r: kv })) },
];
const swimParts = swimMessages.map((m) => Uint8Array.from(encodeSwimMessage(m)));

/** Decodes one part and opens it as the driver does; never throws. */
function openPart(bytes: Uint8Array): boolean {
  const part = decodeSwimMessage(bytes);
  if (!part.ok) return false;
  if (isBroadcastMessage(part.value)) openBroadcast(part.value, scheme);
  if (part.value.type === 'User') decodePiggyback(part.value.data);
  return true;
}

const wireRecord = { version: kv.version, payload: kv.payload, signature: kv.signature };
const heartbeat = {
  version: 5,
  payload: Uint8Array.from(encodeHeartbeatPayload(1)),
  signature: new Uint8Array(SIGNATURE_BYTES),
};
const entry = { node: alice.nodeId, generation: 1, maxVersion: 5, gcVersion: 0, heartbeat: 5 };
const delta = [
  {
    node: alice.nodeId,
    generation: 1,
    fromVersion: 0,
    maxVersion: 5,
    gcVersion: 0,
    heartbeat,
    records: [wireRecord],
  },
];
const stateMessages: StateMessage[] = [
  { type: 'Syn', cluster: 'test', digest: { partial: false, entries: [entry] } },
  { type: 'SynAck', digest: { partial: true, entries: [entry, { ...entry, node: bob.nodeId }] }, delta },
  { type: 'Ack', delta },
];
const stateSeeds = stateMessages.map((m) => Uint8Array.from(encodeStateMessage(m)));

/** Decodes a state message and every record payload in it, as the state core does. */
function decodeState(bytes: Uint8Array): boolean {
  const m = decodeStateMessage(bytes);
  if (m === undefined) return false;
  if (m.type !== 'Syn') {
    for (const d of m.delta) for (const r of d.records) decodeStatePayload(r.payload);
  }
  return true;
}

const decodeSyncFrame = syncFrameDecoder(SYNC_FRAME_BYTES);

describe('decoder fuzz: membership', () => {
  it('SWIM compound packets, their parts and broadcast records', () => {
    fuzzDecoder({
      name: 'SWIM compound',
      seeds: [
        Uint8Array.from(encodeCompound(swimParts)),
        Uint8Array.from(encodeCompound(swimParts.slice(0, 2))),
      ],
      run: (bytes) => {
        const parts = decodeCompound(bytes);
        if (parts.ok) for (const part of parts.value) openPart(part);
        return parts.ok;
      },
      accepts: (ok) => ok === true,
      throws: [],
    });
  });

  it('SWIM messages', () => {
    fuzzDecoder({
      name: 'SWIM message',
      seeds: swimParts,
      run: openPart,
      accepts: (ok) => ok === true,
      throws: [],
    });
  });

  it('Scuttlebutt state messages and record payloads', () => {
    fuzzDecoder({
      name: 'state message',
      seeds: stateSeeds,
      run: decodeState,
      accepts: (ok) => ok === true,
      throws: [],
    });
  });

  it('push-pull sync frames', () => {
    const frames = [
      encodeSyncFrame({ t: 'push', have: new Uint8Array(16), alive: [alive], state: stateSeeds[0]! }),
      encodeSyncFrame({ t: 'pull', alive: [alive, alive], want: [0, 3], state: stateSeeds[1]! }),
      encodeSyncFrame({ t: 'done', alive: [] }),
    ];
    fuzzDecoder({
      name: 'sync frame',
      seeds: frames,
      run: (bytes) => {
        const frame = decodeSyncFrame(bytes);
        if (frame?.state !== undefined) decodeState(frame.state);
        return frame;
      },
      accepts: (frame) => frame !== undefined,
      throws: [],
    });
  });

  it('piggybacked items and direct messages', () => {
    fuzzDecoder({
      name: 'piggyback',
      seeds: [
        Uint8Array.from(encodePiggyback({ k: 'kv', r: kv })),
        Uint8Array.from(encodePiggyback({ k: 'ub', id: 'a:1', r: kv })),
      ],
      run: decodePiggyback,
      accepts: (item) => item !== undefined,
      throws: [],
    });
    fuzzDecoder({
      name: 'direct message',
      seeds: [encoded(kv), encoded(signRecord(bob, 0, new Uint8Array(100), scheme))],
      run: decodeDirect,
      accepts: (record) => record !== undefined,
      throws: DECODE_ERRORS,
    });
  });

  it('PeX messages', () => {
    const entries = [
      { address: '127.0.0.1:7001', id: bob.nodeId, age: 0 },
      { address: '127.0.0.1:7002', age: 3 },
    ];
    fuzzDecoder({
      name: 'PeX message',
      seeds: [
        Uint8Array.from(encodePexMessage({ type: 'PexPush', id: 1, entries })),
        Uint8Array.from(encodePexMessage({ type: 'PexPull', id: 2 ** 32 - 1, entries: [] })),
      ],
      run: (bytes) => decodePexMessage(bytes),
      accepts: (m) => m !== undefined,
      throws: [],
    });
  });
});
