/**
 * The simulator's stored offers: each with its hidden createdAt and cached JSON, sorted views
 * per order kept in step with changes, and a small cache of filtered views.
 */
import { offerDetail } from './details';
import { generate, generateOffers, Offer } from './generate';

export type SortField = 'CreatedAt' | 'LaunchDate' | 'EndDate' | 'Name' | 'BudgetAmount';
export const SORT_FIELDS: readonly SortField[] = [
  'CreatedAt',
  'LaunchDate',
  'EndDate',
  'Name',
  'BudgetAmount',
];
export const SORT_FIELD_BY_LOWER = new Map(SORT_FIELDS.map((f) => [f.toLowerCase(), f]));

const FILTER_CACHE_SIZE = 64;

export interface Stored {
  offer: Offer;
  createdAt: number;
  /** Serialized once, so a page costs a join of cached strings, not a stringify. */
  json?: string;
  /** The offer-details object's JSON, made on first request (a change replaces the Stored). */
  detailJson?: string;
}

type SortKey = number | string | null;

export function serialize(s: Stored): string {
  return (s.json ??= JSON.stringify(s.offer));
}

function dateKey(value: unknown): number | null {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

function sortKey(s: Stored, field: SortField): SortKey {
  const o = s.offer;
  switch (field) {
    case 'CreatedAt':
      return s.createdAt;
    case 'LaunchDate':
      return dateKey(o.launchDate);
    case 'EndDate':
      return dateKey(o.endDate);
    case 'Name':
      return typeof o.name === 'string' ? o.name.toLowerCase() : null;
    case 'BudgetAmount':
      return typeof o.budgetAmount === 'number' && Number.isFinite(o.budgetAmount)
        ? o.budgetAmount
        : null;
  }
}

/**
 * Nulls sort lowest, as in SQL Server: first ascending, last descending. Ties fall back
 * to the id (always ascending), so every order is total and stable across requests.
 */
function compareOrder(ka: SortKey, ia: string, kb: SortKey, ib: string, asc: boolean): number {
  if (ka !== kb) {
    const c = ka === null ? -1 : kb === null ? 1 : ka < kb ? -1 : 1;
    return asc ? c : -c;
  }
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

interface SortedView {
  field: SortField;
  asc: boolean;
  order: Stored[];
}

/** Index of `s` in a view, or where it belongs. */
function locate(view: SortedView, s: Stored): number {
  const key = sortKey(s, view.field);
  let lo = 0;
  let hi = view.order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = view.order[mid];
    if (compareOrder(sortKey(m, view.field), m.offer.id, key, s.offer.id, view.asc) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** Which slice of the inventory a list request sees, before paging. */
export interface ViewQuery {
  field: SortField;
  asc: boolean;
  search: string;
  offerType?: string;
}

export class Inventory {
  private readonly stored = new Map<string, Stored>();
  /** Sorted inventory per `${field}:${asc}`, built on first use and kept in step by reindex. */
  private readonly orderCache = new Map<string, SortedView>();
  /** Filtered views of a sorted order, for scans that page through one search. */
  private readonly filterCache = new Map<string, Stored[]>();
  private readonly seed: number;
  private newestCreatedAt = -Infinity;
  /** Next generator index for addGenerated, so added ids never repeat earlier ones. */
  private nextIndex: number;

  /** The first `count` offers of `seed`; `seed` also seeds every offer's details. */
  constructor(count: number, seed: number) {
    this.seed = seed;
    this.nextIndex = count;
    generate(count, seed, {}, (offer, createdAt) => this.insert(offer, createdAt));
  }

  get size(): number {
    return this.stored.size;
  }

  /** Current inventory in default server order (CreatedAt descending), as it is served. */
  offers(): Offer[] {
    return this.sorted('CreatedAt', false).map((s) => JSON.parse(serialize(s)) as Offer);
  }

  /** The offer-details JSON of the offer with this id, or undefined if there is none. */
  detail(id: string): string | undefined {
    const s = this.stored.get(id);
    if (!s) return undefined;
    return (s.detailJson ??= JSON.stringify(offerDetail(s.offer, this.seed)));
  }

  /** createdAt defaults to now, and is never older than the newest offer, so these come first. */
  add(offers: Offer[], createdAt?: Date): void {
    const at = createdAt?.getTime() ?? Math.max(Date.now(), this.newestCreatedAt + 1);
    if (Number.isNaN(at)) throw new RangeError('add: invalid createdAt');
    const ids = new Set<string>();
    for (const o of offers) {
      if (typeof o?.id !== 'string') throw new TypeError('add: every offer needs a string id');
      if (this.stored.has(o.id) || ids.has(o.id)) throw new Error(`add: duplicate id ${o.id}`);
      ids.add(o.id);
    }
    // Cloned so later changes to the caller's objects cannot leak into served pages.
    const added = offers.map((o) => this.insert(structuredClone(o), at));
    this.reindex([], added);
  }

  /**
   * Generates and adds `count` offers. Fresh generator indices make the ids disjoint from all
   * earlier ones, whatever the seed. Throws RangeError on a bad count, seed or range.
   */
  addGenerated(count: number, seed: number, range: { from?: Date; to?: Date }): Offer[] {
    const offers = generateOffers(count, seed, { ...range, firstIndex: this.nextIndex });
    this.add(offers);
    this.nextIndex += offers.length;
    return offers;
  }

  /** Unknown ids are ignored (the offer may already be gone). */
  remove(ids: string[]): void {
    const removed: Stored[] = [];
    for (const id of ids) {
      const s = this.stored.get(id);
      if (s && this.stored.delete(id)) removed.push(s);
    }
    this.reindex(removed, []);
  }

  /** A patch value of undefined drops that field from the served JSON. */
  update(id: string, patch: Partial<Offer>): void {
    const old = this.stored.get(id);
    if (!old) throw new Error(`update: unknown id ${id}`);
    if (patch.id !== undefined && patch.id !== id) throw new Error('update: cannot change id');
    const s = this.insert({ ...old.offer, ...structuredClone(patch), id }, old.createdAt);
    this.reindex([old], [s]);
  }

  /** The offers a query sees, in its order (cached; do not modify). */
  view(q: ViewQuery): Stored[] {
    const order = this.sorted(q.field, q.asc);
    if (q.search === '' && q.offerType === undefined) return order;
    const key = JSON.stringify([q.field, q.asc, q.search, q.offerType]);
    let view = this.filterCache.get(key);
    if (!view) {
      const needle = q.search.toLowerCase();
      view = order.filter(
        ({ offer }) =>
          (needle === '' ||
            (typeof offer.name === 'string' && offer.name.toLowerCase().includes(needle))) &&
          (q.offerType === undefined || offer.offerType === q.offerType),
      );
      if (this.filterCache.size >= FILTER_CACHE_SIZE) {
        this.filterCache.delete(this.filterCache.keys().next().value as string);
      }
      this.filterCache.set(key, view);
    }
    return view;
  }

  private insert(offer: Offer, createdAt: number): Stored {
    const s: Stored = { offer, createdAt };
    this.stored.set(offer.id, s);
    if (createdAt > this.newestCreatedAt) this.newestCreatedAt = createdAt;
    return s;
  }

  /**
   * Keeps cached orders valid after a change. A few offers (mid-scan churn) are moved by
   * binary search, so a 100k inventory is not re-sorted per change; big batches re-sort.
   */
  private reindex(removed: Stored[], added: Stored[]): void {
    this.filterCache.clear();
    if (removed.length + added.length > 64) {
      this.orderCache.clear();
      return;
    }
    for (const view of this.orderCache.values()) {
      for (const s of removed) {
        const i = locate(view, s);
        if (view.order[i] === s) view.order.splice(i, 1);
      }
      for (const s of added) view.order.splice(locate(view, s), 0, s);
    }
  }

  private sorted(field: SortField, asc: boolean): Stored[] {
    const cacheKey = `${field}:${asc}`;
    let view = this.orderCache.get(cacheKey);
    if (!view) {
      // Decorate once: keys are computed n times, not n log n times.
      const decorated = Array.from(this.stored.values(), (s) => ({ s, k: sortKey(s, field) }));
      decorated.sort((a, b) => compareOrder(a.k, a.s.offer.id, b.k, b.s.offer.id, asc));
      view = { field, asc, order: decorated.map((d) => d.s) };
      this.orderCache.set(cacheKey, view);
    }
    return view.order;
  }
}
