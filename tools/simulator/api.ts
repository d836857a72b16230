/**
 * The simulated API's surface shared by the server, its faults and its control API: the path,
 * the limits, the reply a handler computes, and GoKart's JSON envelope.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';

export const OFFERS_PATH = '/api/v1/sdk-offer-management/partner';
export const MAX_PAGE_SIZE = 100;
export const MAX_PAGE = 2_147_483_647; // the API is .NET: page is an Int32

/** A computed answer; `mode` other than 'normal' is a hostile way of sending it (see faults.ts). */
export interface Reply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
  mode: 'normal' | 'truncated' | 'reset' | 'padded' | 'drip';
  /** 'padded': this many bytes of whitespace before the body (Infinity: endless), maybe gzipped. */
  padBytes?: number;
  gzip?: boolean;
  /** 'drip': ms between bytes. */
  dripMs?: number;
}

/** Controller errors become HTTP 400 on the control endpoints. */
export class BadRequest extends Error {}

export function envelope(
  status: number,
  messages: string[],
  title = http.STATUS_CODES[status] ?? 'Error',
): string {
  return JSON.stringify({
    data: null,
    responseId: randomUUID(),
    isSuccessful: false,
    responseTitle: title,
    responseType: 'Error',
    messages,
  });
}

export function jsonReply(status: number, body: string, headers?: Record<string, string>): Reply {
  return { status, body, contentType: 'application/json; charset=utf-8', headers, mode: 'normal' };
}

export function errorReply(
  status: number,
  messages: string[],
  headers?: Record<string, string>,
): Reply {
  return jsonReply(status, envelope(status, messages), headers);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Absent or empty → fallback; a strict integer in [min, max]; anything else → undefined. */
export function intParam(
  raw: string | null,
  fallback: number,
  min: number,
  max: number,
): number | undefined {
  if (raw === null || raw === '') return fallback;
  if (!/^[+-]?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

export function boolParam(raw: string | null): boolean | undefined {
  const v = raw?.toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}
