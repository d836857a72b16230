import { AirbyteLog, AirbyteLogLevel, AirbyteMessageType } from 'faros-airbyte-cdk/lib/protocol';
import { Writable } from 'stream';
import { FailureType } from './errors';
import { Offer } from './client';

/**
 * Plain Airbyte protocol messages. The CDK's own STATE and TRACE shapes carry
 * Faros-only fields (compressed state, sourceStatus, ...), so the messages a
 * generic destination must read are typed here.
 */
export type StreamStatus = 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE';

export interface StreamStateMessage {
  type: 'STATE';
  state: {
    type: 'STREAM';
    stream: { stream_descriptor: { name: string }; stream_state: Record<string, unknown> };
    sourceStats: { recordCount: number };
  };
}

export type TraceMessage = {
  type: 'TRACE';
  trace:
    | { type: 'ERROR'; emitted_at: number; error: TraceError }
    | {
        type: 'ESTIMATE';
        emitted_at: number;
        estimate: { name: string; type: 'STREAM'; row_estimate: number };
      }
    | {
        type: 'STREAM_STATUS';
        emitted_at: number;
        stream_status: {
          stream_descriptor: { name: string };
          status: StreamStatus;
          reasons?: { type: 'RATE_LIMITED'; rate_limited: { quota_reset?: number } }[];
        };
      };
};

export interface TraceError {
  message: string;
  internal_message?: string;
  failure_type: FailureType;
  stream_descriptor?: { name: string };
}

export type LogLevel = 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';

/** Where a read goes: stdout for the Airbyte CLI, or any other consumer of the same messages. */
export interface ReadSink {
  /** Records of one page, in order. */
  records(stream: string, offers: Offer[]): Promise<void>;
  /** STATE or TRACE messages. */
  message(msg: StreamStateMessage | TraceMessage): Promise<void>;
  log(level: LogLevel, message: string): void;
}

/** A stream status; `rateLimited` adds the RATE_LIMITED reason (quota_reset when known). */
export function streamStatus(
  name: string,
  status: StreamStatus,
  rateLimited?: { quotaReset?: number },
): TraceMessage {
  const reason = rateLimited && {
    type: 'RATE_LIMITED' as const,
    rate_limited:
      rateLimited.quotaReset !== undefined ? { quota_reset: rateLimited.quotaReset } : {},
  };
  return {
    type: 'TRACE',
    trace: {
      type: 'STREAM_STATUS',
      emitted_at: Date.now(),
      stream_status: {
        stream_descriptor: { name },
        status,
        ...(reason ? { reasons: [reason] } : {}),
      },
    },
  };
}

export function traceError(error: TraceError): TraceMessage {
  return { type: 'TRACE', trace: { type: 'ERROR', emitted_at: Date.now(), error } };
}

export function estimate(name: string, rows: number): TraceMessage {
  return {
    type: 'TRACE',
    trace: {
      type: 'ESTIMATE',
      emitted_at: Date.now(),
      estimate: { name, type: 'STREAM', row_estimate: rows },
    },
  };
}

export function streamState(
  name: string,
  state: Record<string, unknown>,
  recordCount: number,
): StreamStateMessage {
  return {
    type: 'STATE',
    state: {
      type: 'STREAM',
      stream: { stream_descriptor: { name }, stream_state: state },
      sourceStats: { recordCount },
    },
  };
}

const MASK = '**********';

/**
 * The one secret scrubber: every output (Airbyte messages, stderr, `_sync_runs`)
 * goes through it. A secret is looked for as written and in its JSON-escaped
 * forms (once and twice: a message may quote a JSON text that is serialised
 * again), since a token containing `"` or `\` is escaped once it is in JSON.
 */
export class Scrubber {
  private forms: string[] = [];

  constructor(secrets: readonly string[] = []) {
    this.add(secrets);
  }

  /** More secrets to scrub from now on. */
  add(secrets: readonly string[]): void {
    const forms = new Set(this.forms);
    for (const secret of secrets) {
      if (!secret) continue;
      const once = JSON.stringify(secret).slice(1, -1);
      const twice = JSON.stringify(once).slice(1, -1);
      for (const form of [secret, once, twice]) forms.add(form);
    }
    // Longest first, so a form that contains another is masked whole.
    this.forms = [...forms].sort((a, b) => b.length - a.length);
  }

  /** The text with every form of every secret masked. */
  text(text: string): string {
    let out = text;
    for (const form of this.forms) {
      if (out.includes(form)) out = out.split(form).join(MASK);
    }
    return out;
  }

  /**
   * One JSON line: every string value is scrubbed before it is serialised, then
   * the serialised line again as a safety net (keys, and escapes that happen to
   * spell a secret).
   */
  line(msg: object): string {
    if (!this.forms.length) return JSON.stringify(msg);
    return this.text(
      JSON.stringify(msg, (_key, value: unknown) =>
        typeof value === 'string' ? this.text(value) : value,
      ),
    );
  }
}

/**
 * Writes one JSON message per line with backpressure. Records are written a
 * page at a time as one string; every other message is scrubbed of secrets
 * (errors and logs may quote what a server or library said).
 */
export class JsonLinesSink implements ReadSink {
  constructor(
    private readonly out: Writable = process.stdout,
    readonly scrubber: Scrubber = new Scrubber(),
  ) {}

  async records(stream: string, offers: Offer[]): Promise<void> {
    const head = `{"type":"RECORD","record":{"stream":${JSON.stringify(stream)},"emitted_at":${Date.now()},"data":`;
    let chunk = '';
    for (const offer of offers) chunk += head + JSON.stringify(offer) + '}}\n';
    await this.write(chunk);
  }

  async message(msg: object): Promise<void> {
    await this.write(this.scrubber.line(msg) + '\n');
  }

  log(level: LogLevel, message: string): void {
    // The CDK's log message shape is plain Airbyte protocol.
    const msg: { type: AirbyteMessageType } = AirbyteLog.make(AirbyteLogLevel[level], message);
    void this.message(msg);
  }

  private write(chunk: string): Promise<void> {
    if (this.out.write(chunk)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        this.out.off('drain', done);
        this.out.off('error', done);
        this.out.off('close', done);
        if (err) reject(err);
        else resolve();
      };
      this.out.once('drain', done);
      this.out.once('error', done);
      this.out.once('close', done);
    });
  }
}
