// The sync's progress on a terminal (cli-progress): a bar with rate and ETA, or a counter; warnings above it.
import { Format, GenericFormatter, MultiBar, SingleBar } from 'cli-progress';
import { LogLevel } from '../airbyte/messages';
import { stripControl } from '../text';

const BAR = 'offers [{bar}] {percentage}% {value}/{total} · {rate}/s · ETA {eta_formatted}';
const COUNTER = 'offers {value} read · {rate}/s{atMost}';
const PHASE = 'offers {value} read · {phase}…';

interface Payload {
  rate: string;
  /** The total is the number of rows this run reads (a full read), so a bar is drawn. */
  bounded: boolean;
  /** The inventory's size, when known but not the number of rows this run reads. */
  atMost: string;
  phase?: string;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** One line, never wider than the terminal: the bar, the counter or the phase. */
const format: GenericFormatter = (options, params, payload: Payload) => {
  const template = payload.phase ? PHASE : payload.bounded && params.total > 0 ? BAR : COUNTER;
  const line: string = Format.Formatter({ ...options, format: template }, params, payload);
  return line.slice(0, Math.max(1, params.maxWidth - 1));
};

/**
 * Progress on stderr when it is a terminal: a bar with rate and ETA when the
 * total is known, a counter with rate otherwise. Silent when stderr is not a TTY;
 * warnings and errors from the read are printed either way, above the bar.
 */
export class Progress {
  private readonly tty: boolean;
  private readonly bars: MultiBar;
  private bar?: SingleBar;
  private bounded = false;
  private count = 0;
  private atMost = '';
  private startedAt = Date.now();

  constructor(private readonly out: NodeJS.WriteStream) {
    this.tty = Boolean(out.isTTY);
    this.bars = new MultiBar({
      stream: out,
      format,
      fps: 10,
      barsize: 24,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      etaBuffer: 50,
      // Trim to the terminal's width rather than switch its line wrapping off (a killed sync would leave it off).
      linewrap: true,
      clearOnComplete: true,
      // Redraw each frame even when unchanged: a warning printed above erases the bar's line.
      forceRedraw: true,
      formatValue: (v, options, type) =>
        type === 'value' || type === 'total' ? n(v) : Format.ValueFormat(v, options, type),
      // cli-progress reports an unknown ETA as the strings 'NULL' or 'INF'.
      formatTime: (t, options, round) =>
        typeof t === 'number' ? Format.TimeFormat(t, options, round) : '?',
    });
  }

  /** The read starts; `totalIsExact`: the estimate will be the number of rows it reads. */
  start(totalIsExact: boolean): void {
    this.bounded = totalIsExact;
    this.startedAt = Date.now();
    if (!this.tty) return;
    this.bar = this.bars.create(0, 0, this.payload());
    this.bars.update();
  }

  setTotal(rows: number): void {
    this.atMost = this.bounded ? '' : ` (of at most ${n(rows)})`;
    this.bar?.setTotal(rows);
    this.bar?.update(this.payload());
  }

  update(count: number): void {
    this.count = count;
    this.bar?.update(count, this.payload());
  }

  /** The read is over; `text` says what happens now. */
  phase(text: string): void {
    this.bar?.update({ phase: text });
    if (this.bar) this.bars.update();
  }

  log(level: LogLevel, message: string): void {
    if (level !== 'WARN' && level !== 'ERROR') return;
    const line = `${level.toLowerCase()}: ${stripControl(message)}\n`;
    if (!this.bar) {
      this.out.write(line);
      return;
    }
    this.bars.log(line);
    this.bars.update();
  }

  /** Removes the bar for good (before the summary or the error is printed). */
  clear(): void {
    if (!this.bar) return;
    this.bars.stop();
    this.bar = undefined;
  }

  private payload(): Payload {
    const secs = Math.max(0.001, (Date.now() - this.startedAt) / 1000);
    return { rate: n(this.count / secs), bounded: this.bounded, atMost: this.atMost };
  }
}
