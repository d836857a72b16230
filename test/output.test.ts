import { Writable } from 'stream';
import { streamState, traceError } from '../src/airbyte/messages';
import { AirbyteWriter } from '../src/airbyte/writer';
import { Scrubber } from '../src/text';

/** A stdout stand-in that accepts little and drains only when told. */
class SlowOut extends Writable {
  written = '';
  private pending: Array<() => void> = [];
  constructor() {
    super({ highWaterMark: 16 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.written += chunk.toString();
    this.pending.push(done);
  }
  release(): void {
    for (const done of this.pending.splice(0)) done();
  }
}

describe('AirbyteWriter', () => {
  it('writes one RECORD line per offer, with an integer emitted_at', async () => {
    const out = new SlowOut();
    const sink = new AirbyteWriter(out);
    const done = sink.records('offers', [
      { id: 'a', launchDate: null },
      { id: 'b', extra: { x: 1 } },
    ]);
    out.release();
    await done;
    const lines = out.written
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        type: 'RECORD',
        record: {
          stream: 'offers',
          emitted_at: expect.any(Number),
          data: { id: 'a', launchDate: null },
        },
      },
      {
        type: 'RECORD',
        record: {
          stream: 'offers',
          emitted_at: expect.any(Number),
          data: { id: 'b', extra: { x: 1 } },
        },
      },
    ]);
    expect(Number.isInteger(lines[0].record.emitted_at)).toBe(true);
  });

  it('waits for the consumer before the next page (backpressure)', async () => {
    const out = new SlowOut();
    const sink = new AirbyteWriter(out);
    let resolved = false;
    const done = sink.records('offers', [{ id: 'a' }]).then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    out.release();
    await done;
    expect(resolved).toBe(true);
  });

  it('waits for the consumer before a log line returns too (no fire-and-forget)', async () => {
    const out = new SlowOut();
    const writer = new AirbyteWriter(out);
    let resolved = false;
    const done = writer.log('WARN', 'retrying page 3').then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    out.release();
    await done;
    expect(resolved).toBe(true);
  });

  it('scrubs secrets from every non-record message', async () => {
    const out = new SlowOut();
    const sink = new AirbyteWriter(out, new Scrubber(['s3cret-token']));
    const done = sink.message(streamState('offers', { note: 'header ApiToken s3cret-token' }, 0));
    out.release();
    await done;
    expect(out.written).not.toContain('s3cret-token');
    expect(out.written).toContain('ApiToken **********');
  });

  it('scrubs a token containing " and \\ however it was escaped', async () => {
    const token = 'to"k\\en-42';
    const escaped = JSON.stringify(token).slice(1, -1);
    const out = new SlowOut();
    const sink = new AirbyteWriter(out, new Scrubber(['s3cret-token']));
    sink.scrubber.add([token]); // known once the config was read
    const done = sink.message(
      traceError({
        message: `API said: bad header ApiToken ${token}`,
        internal_message: `the config was {"api_token":"${escaped}"}; as a JSON string: ${JSON.stringify(JSON.stringify(token))}`,
        failure_type: 'config_error',
      }),
    );
    out.release();
    await done;
    for (const form of [token, escaped, JSON.stringify(escaped).slice(1, -1)]) {
      expect(out.written).not.toContain(form);
    }
    expect(JSON.parse(out.written).trace.error).toMatchObject({
      message: 'API said: bad header ApiToken **********',
      internal_message:
        'the config was {"api_token":"**********"}; as a JSON string: "\\"**********\\""',
    });
  });
});

describe('Scrubber', () => {
  it('masks every form of every secret in plain text, longest first', () => {
    const scrub = new Scrubber(['a\\b-secret', 'plain-secret']);
    expect(scrub.text('x a\\b-secret y a\\\\b-secret z plain-secret')).toBe(
      'x ********** y ********** z **********',
    );
    expect(new Scrubber().text('nothing to hide')).toBe('nothing to hide');
  });
});
