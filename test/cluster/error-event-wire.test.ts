import { describe, expect, it } from 'vitest';
import v8 from 'node:v8';
import { SessmapError, sessmapError } from '../../src/errors.js';
import { fromWire, toWire } from '../../src/cluster/protocol.js';

/** What each cluster serialization does to a message: 'json' is JSON, 'advanced' is v8's structured clone. */
const CHANNELS = {
  json: (m: unknown): unknown => JSON.parse(JSON.stringify(m)),
  advanced: (m: unknown): unknown => v8.deserialize(v8.serialize(m)),
};

describe('an error event from a worker', () => {
  it.each(Object.keys(CHANNELS) as Array<keyof typeof CHANNELS>)(
    'crosses the %s channel as { code, message, name, details } and is rebuilt as the same SessmapError',
    (channel) => {
      const err = sessmapError('SESSMAP_ERR_LOCK_TIMEOUT', 'page 3 lock not acquired within 2000 ms', { page: 3, holderPid: 4242 });
      const wire = CHANNELS[channel](toWire('error', [err]));
      expect((wire as [string, unknown])[1]).toEqual({ code: 'SESSMAP_ERR_LOCK_TIMEOUT', message: err.message, name: 'SessmapError', details: { page: 3, holderPid: 4242 } });
      const [name, rebuilt] = fromWire(wire as ReturnType<typeof toWire>);
      expect(name).toBe('error');
      expect(rebuilt).toBeInstanceOf(SessmapError);
      expect(rebuilt).toMatchObject({ code: 'SESSMAP_ERR_LOCK_TIMEOUT', message: err.message, details: { page: 3, holderPid: 4242 } });
    },
  );

  it('that is not a SessmapError arrives as an Error with its message, name and code', () => {
    const err = Object.assign(new RangeError('disk says no'), { code: 'ENOSPC' });
    const [, rebuilt] = fromWire(CHANNELS.json(toWire('error', [err])) as ReturnType<typeof toWire>);
    expect(rebuilt).toBeInstanceOf(Error);
    expect(rebuilt).not.toBeInstanceOf(SessmapError);
    expect(rebuilt).toMatchObject({ message: 'disk says no', name: 'RangeError', code: 'ENOSPC' });
  });
});
