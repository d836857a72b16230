/** The simulator's start options, their defaults and their checks. */

/** reject = HTTP 400 for any orderby other than CreatedAt. */
export type SortMode = 'honour' | 'ignore' | 'reject';

/**
 * How the offer-details endpoint serves `data`: the detail object itself, or (the docs also say
 * "paginated list") a one-item PagedList around it.
 */
export type DetailsShape = 'object' | 'list';

export interface SimulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (random free port). */
  port?: number;
  /** Accepted API token, default 'sim-token'. */
  token?: string;
  /** A token that gets 403, default 'sim-forbidden'. */
  forbiddenToken?: string;
  /** Size of the generated inventory, default 250. */
  offers?: number;
  /** Default 1. */
  seed?: number;
  /** Added to every API request (list and details), default 0. */
  latencyMs?: number;
  /** Default 'honour'. */
  sortMode?: SortMode;
  /** Default 'object'. */
  detailsShape?: DetailsShape;
}

export const SORT_MODES: readonly SortMode[] = ['honour', 'ignore', 'reject'];
export const DETAILS_SHAPES: readonly DetailsShape[] = ['object', 'list'];

export function resolveOptions(o: SimulatorOptions): Required<SimulatorOptions> {
  const r: Required<SimulatorOptions> = {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    token: o.token ?? 'sim-token',
    forbiddenToken: o.forbiddenToken ?? 'sim-forbidden',
    offers: o.offers ?? 250,
    seed: o.seed ?? 1,
    latencyMs: o.latencyMs ?? 0,
    sortMode: o.sortMode ?? 'honour',
    detailsShape: o.detailsShape ?? 'object',
  };
  const checks: [boolean, string][] = [
    [Number.isInteger(r.port) && r.port >= 0 && r.port <= 65535, 'port must be 0..65535'],
    [/^\S+$/.test(r.token), 'token must be non-empty without spaces'],
    [/^\S+$/.test(r.forbiddenToken), 'forbiddenToken must be non-empty without spaces'],
    [r.token !== r.forbiddenToken, 'token and forbiddenToken must differ'],
    [Number.isSafeInteger(r.offers) && r.offers >= 0, 'offers must be a non-negative integer'],
    [Number.isSafeInteger(r.seed), 'seed must be an integer'],
    [Number.isFinite(r.latencyMs) && r.latencyMs >= 0, 'latencyMs must be >= 0'],
    [SORT_MODES.includes(r.sortMode), `sortMode must be one of ${SORT_MODES.join(', ')}`],
    [
      DETAILS_SHAPES.includes(r.detailsShape),
      `detailsShape must be one of ${DETAILS_SHAPES.join(', ')}`,
    ],
  ];
  for (const [ok, message] of checks) if (!ok) throw new RangeError(message);
  return r;
}
