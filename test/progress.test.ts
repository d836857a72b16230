/* eslint-disable no-control-regex -- the output under test is terminal escape sequences */
import { Writable } from 'stream';
import { Progress } from '../src/warehouse/progress';

/** A stderr stand-in that records what is written to it. */
function terminal(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  Object.assign(out, { isTTY, columns: 100 });
  return { out: out as unknown as NodeJS.WriteStream, text: () => text };
}

/** The lines as a terminal would end up showing them, for escape-free assertions. */
const frames = (text: string) =>
  text
    .split(/\x1b\[1G|\n/)
    .map((f) => f.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''))
    .filter(Boolean);

describe('Progress (the sync progress on stderr)', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('draws a bar with rate and ETA when the total is exact, warnings above it, and clears it', () => {
    const { out, text } = terminal(true);
    const progress = new Progress(out);
    progress.start(true);
    progress.setTotal(1000);
    jest.advanceTimersByTime(1000);
    progress.update(500);
    jest.advanceTimersByTime(100);
    expect(frames(text()).at(-1)).toBe(
      'offers [############------------] 50% 500/1,000 · 500/s · ETA 1s',
    );
    progress.log('WARN', 'Retrying page 3\x1b[31m');
    progress.log('INFO', 'not shown');
    const [warning, redrawn] = frames(text()).slice(-2);
    expect(warning).toBe('warn: Retrying page 3');
    expect(redrawn).toMatch(/^offers \[#+-+\] 50% 500\/1,000/);
    progress.phase('writing to x.duckdb');
    expect(frames(text()).at(-1)).toBe('offers 500 read · writing to x.duckdb…');
    progress.clear();
    expect(text()).toMatch(/\x1b\[0J$/); // the bar's line is erased, nothing drawn after it
    jest.advanceTimersByTime(1000);
    expect(text()).toMatch(/\x1b\[0J$/);
  });

  it('counts with a rate when the estimate is only an upper bound', () => {
    const { out, text } = terminal(true);
    const progress = new Progress(out);
    progress.start(false);
    progress.setTotal(1000);
    jest.advanceTimersByTime(2000);
    progress.update(300);
    jest.advanceTimersByTime(100);
    expect(frames(text()).at(-1)).toBe('offers 300 read · 150/s (of at most 1,000)');
    progress.clear();
  });

  it('is silent when stderr is not a terminal, except for warnings and errors', () => {
    const { out, text } = terminal(false);
    const progress = new Progress(out);
    progress.start(true);
    progress.setTotal(1000);
    progress.update(500);
    jest.advanceTimersByTime(1000);
    progress.phase('writing');
    progress.log('INFO', 'not shown');
    progress.log('ERROR', 'the database is locked');
    progress.clear();
    expect(text()).toBe('error: the database is locked\n');
  });
});
