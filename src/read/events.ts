import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { ApiRecord, RetryNotice } from '../api/types';
import { FailureType } from '../errors';
import type { ScanStats } from './scan/scanner';
import type { StreamDefinition } from '../streams/definition';

/**
 * What a read tells its output, in order. Each stream's events start with
 * `started` and end with `completed` or `failed`; `checkpoint` comes once,
 * after a scan that proved complete, just before `completed`.
 */
export type ReadEvent =
  | { type: 'started'; stream: string }
  | { type: 'estimate'; stream: string; rows: number }
  /** One page's new records, in page order. */
  | { type: 'records'; stream: string; records: ApiRecord[] }
  /** While waiting out a 429. */
  | { type: 'rate_limited'; stream: string; quotaReset?: number }
  | { type: 'retry'; stream: string; notice: RetryNotice }
  | { type: 'log'; level: 'INFO' | 'WARN'; message: string; stream?: string }
  | { type: 'checkpoint'; stream: string; state: Record<string, unknown>; recordCount: number }
  | {
      type: 'completed';
      stream: string;
      syncMode: SyncMode;
      recordCount: number;
      stats: ScanStats;
      ms: number;
    }
  /** `message` is the whole sentence for the user ("Reading the offers stream failed after …"). */
  | {
      type: 'failed';
      stream: string;
      failureType: FailureType;
      message: string;
      internalMessage?: string;
      recordCount: number;
    };

export interface ConfiguredStream {
  stream: StreamDefinition;
  syncMode: SyncMode;
}

/** A retry notice as the WARN line every output prints. */
export function retryMessage(notice: RetryNotice): string {
  return `Retrying ${notice.target} in ${(notice.delayMs / 1000).toFixed(1)}s (attempt ${notice.attempt + 1}): ${notice.reason}`;
}
