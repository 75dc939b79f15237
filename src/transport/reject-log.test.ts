import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../core/index.js';
import { ManualClock } from '../core/manual-clock.js';
import { RejectLog } from './reject-log.js';

/** A logger whose lines land in `lines`, parsed. */
function capture(): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

/** Lets pino's stream writes land. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('RejectLog', () => {
  it('logs the first rejection in full and the rest as one summary per interval, by reason', async () => {
    const { lines, logger } = capture();
    const clock = new ManualClock();
    const log = new RejectLog(logger, clock, 1000, 'rejecting');
    for (let i = 0; i < 500; i++) log.note(i % 2 === 0 ? 'bad_hello' : 'max_streams', { peer: `p${i}` });
    clock.advance(1000);
    for (let i = 0; i < 300; i++) log.note('hello_timeout', {});
    clock.advance(1000);
    await settle();
    assert.equal(lines.length, 3, JSON.stringify(lines));
    assert.equal(lines[0]!.peer, 'p0');
    assert.deepEqual(lines[1]!.rejected, { bad_hello: 249, max_streams: 250 });
    assert.deepEqual(lines[2]!.rejected, { hello_timeout: 300 });
  });

  it('logs in full again after a quiet interval, and flushes its counts on close', async () => {
    const { lines, logger } = capture();
    const clock = new ManualClock();
    const log = new RejectLog(logger, clock, 1000, 'rejecting');
    log.note('bad_hello', { peer: 'a' });
    clock.advance(1000); // nothing counted: the summaries stop
    log.note('bad_hello', { peer: 'b' });
    log.note('bad_hello', { peer: 'c' });
    log.close();
    clock.advance(5000);
    await settle();
    assert.deepEqual(
      lines.map((l) => l.peer ?? l.rejected),
      ['a', 'b', { bad_hello: 1 }],
    );
  });
});
