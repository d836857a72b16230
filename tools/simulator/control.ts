/**
 * The control API for a simulator in another process (the bench, the image smoke test, manual
 * runs): GET /_sim/stats, POST /_sim/reset-stats, /_sim/offers, /_sim/latency, /_sim/faults,
 * /_sim/details-shape.
 * Loopback callers only (the server checks). A bad request body throws BadRequest (HTTP 400).
 */
import type * as http from 'node:http';

import { BadRequest, errorReply, isRecord, jsonReply, Reply } from './api';
import type { Fault } from './faults';
import type { Offer } from './generate';
import { DETAILS_SHAPES, DetailsShape } from './options';

const MAX_BODY_BYTES = 1 << 20;
/** The control endpoints, and the method each takes. */
const CONTROL_ROUTES: Readonly<Record<string, 'GET' | 'POST'>> = {
  '/_sim/stats': 'GET',
  '/_sim/reset-stats': 'POST',
  '/_sim/offers': 'POST',
  '/_sim/latency': 'POST',
  '/_sim/faults': 'POST',
  '/_sim/details-shape': 'POST',
};

/** What the control API may do to a simulator. */
export interface Controllable {
  /** requests: list requests; detailRequests: offer-details requests. */
  stats(): { requests: number; detailRequests: number; maxInFlight: number; offers: number };
  resetStats(): void;
  /** Throws RangeError on a bad count, seed or range. */
  addGenerated(count: number, seed: number | undefined, range: { from?: Date; to?: Date }): Offer[];
  setLatency(ms: number): void;
  setDetailsShape(shape: DetailsShape): void;
  injectFault(fault: Fault): void;
}

/** The reply to a control request (404 or 405 for an unknown route or method). */
export async function control(
  req: http.IncomingMessage,
  path: string,
  sim: Controllable,
): Promise<Reply> {
  const method = CONTROL_ROUTES[path];
  if (method === undefined) return errorReply(404, [`No route for ${path}`]);
  if (req.method !== method) return errorReply(405, [`${req.method} not allowed on ${path}`]);
  const ok = (body: object = { ok: true }): Reply => jsonReply(200, JSON.stringify(body));
  switch (path) {
    case '/_sim/stats':
      return ok(sim.stats());
    case '/_sim/reset-stats':
      sim.resetStats();
      return ok();
    case '/_sim/offers':
      return ok(addGenerated(sim, await readJson(req)));
    case '/_sim/latency': {
      const body = await readJson(req);
      const ms = isRecord(body) ? body.ms : undefined;
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
        throw new BadRequest('ms must be a number >= 0');
      }
      sim.setLatency(ms);
      return ok({ ok: true, latencyMs: ms });
    }
    case '/_sim/details-shape': {
      const body = await readJson(req);
      const shape = isRecord(body) ? body.shape : undefined;
      if (!DETAILS_SHAPES.includes(shape as DetailsShape)) {
        throw new BadRequest(`shape must be one of ${DETAILS_SHAPES.join(', ')}`);
      }
      sim.setDetailsShape(shape as DetailsShape);
      return ok({ ok: true, detailsShape: shape });
    }
    default: // '/_sim/faults'
      sim.injectFault((await readJson(req)) as Fault); // validated there
      return ok();
  }
}

function addGenerated(sim: Controllable, body: unknown): { added: number; ids: string[] } {
  if (!isRecord(body)) throw new BadRequest('expected a JSON object');
  const { count, seed, launchFrom, launchTo } = body;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || count > 1e6) {
    throw new BadRequest('count must be an integer from 0 to 1000000');
  }
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed))) {
    throw new BadRequest('seed must be an integer');
  }
  const date = (value: unknown, name: string): Date | undefined => {
    if (value === undefined) return undefined;
    const d = typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw new BadRequest(`${name} must be an ISO date-time`);
    return d;
  };
  const range = { from: date(launchFrom, 'launchFrom'), to: date(launchTo, 'launchTo') };
  try {
    const offers = sim.addGenerated(count, seed, range);
    return { added: offers.length, ids: offers.map((o) => o.id) };
  } catch (err) {
    throw err instanceof RangeError ? new BadRequest(err.message) : err;
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest('request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new BadRequest('request body must be JSON');
  }
}

/** Only this machine may control a simulator. */
export function isLoopback(address: string | undefined): boolean {
  return (
    address === '::1' ||
    (address?.startsWith('127.') ?? false) ||
    (address?.startsWith('::ffff:127.') ?? false)
  );
}
