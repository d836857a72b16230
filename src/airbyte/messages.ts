import { FailureType } from '../errors';

/**
 * Plain Airbyte protocol messages. The CDK's own STATE and TRACE shapes carry
 * Faros-only fields (compressed state, sourceStatus, ...), so the messages a
 * generic destination must read are typed here.
 */
type StreamStatus = 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE';

interface StreamStateMessage {
  type: 'STATE';
  state: {
    type: 'STREAM';
    stream: { stream_descriptor: { name: string }; stream_state: Record<string, unknown> };
    sourceStats: { recordCount: number };
  };
}

type TraceMessage = {
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

interface TraceError {
  message: string;
  internal_message?: string;
  failure_type: FailureType;
  stream_descriptor?: { name: string };
}

export type LogLevel = 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';

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
