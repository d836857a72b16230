/**
 * The simulator's inventory generator: a seeded PRNG, collision-free ids and plausible offers.
 * Offer i of a seed depends only on (seed, i), so inventories are reproducible.
 */

export interface Offer {
  id: string;
  categories: string[];
  name: string;
  budgetAmount: number;
  launchDate: string;
  endDate: string | null;
  offerType: string;
  [extra: string]: unknown;
}

export interface GenerateOptions {
  /** Earliest launchDate, default 2016-01-01T00:00:00Z. */
  from?: Date;
  /** Latest launchDate, default 2026-01-01T00:00:00Z. */
  to?: Date;
  /** Prepended verbatim to every id, so differently prefixed batches never share ids. */
  idPrefix?: string;
  /**
   * Index of the first offer (default 0). Offer i depends only on (seed, i), so
   * `generateOffers(n, s, { firstIndex: k })` equals `generateOffers(k + n, s).slice(k)`.
   */
  firstIndex?: number;
}

const DAY_MS = 86_400_000;
const DEFAULT_FROM = Date.UTC(2016, 0, 1);
const DEFAULT_TO = Date.UTC(2026, 0, 1);
const CATEGORIES = [
  'Banking',
  'Gaming',
  'Shopping',
  'Travel',
  'Finance',
  'Health',
  'Education',
  'Crypto',
];
const NAME_WORDS = [
  'Cashback',
  'Bonus',
  'Quest',
  'Signup',
  'Deposit',
  'Trial',
  'Reward',
  'Challenge',
  'Spin',
  'Streak',
];

/** Seeded PRNG (mulberry32): deterministic inventories and test scenarios. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's 32-bit finalizer. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A Feistel network is a bijection, so distinct (seed, index) pairs give distinct
 * 64-bit values: ids from different seeds or indices can never collide.
 */
function scramble(seed: number, index: number): [number, number] {
  let l = seed >>> 0;
  let r = index >>> 0;
  for (let round = 1; round <= 4; round++) {
    const next = (l ^ mix32((r + Math.imul(round, 0x9e3779b9)) >>> 0)) >>> 0;
    l = r;
    r = next;
  }
  return [l, r];
}

// Lookup tables: toString(16)/padStart and toISOString dominated generating 100k offers.
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const TWO_DIGITS = HEX_BYTE.map((_, i) => String(i).padStart(2, '0'));

export function hex32(v: number): string {
  return (
    HEX_BYTE[(v >>> 24) & 255] +
    HEX_BYTE[(v >>> 16) & 255] +
    HEX_BYTE[(v >>> 8) & 255] +
    HEX_BYTE[v & 255]
  );
}

/** Formats like the API, whole seconds with a '+00:00' offset: 2026-03-03T22:00:00+00:00. */
function apiDateFormatter(): (ms: number) => string {
  const days = new Map<number, string>();
  return (ms) => {
    const day = Math.floor(ms / DAY_MS);
    let date = days.get(day);
    if (date === undefined) {
      date = new Date(day * DAY_MS).toISOString().slice(0, 10);
      days.set(day, date);
    }
    const sec = Math.floor((ms - day * DAY_MS) / 1000);
    const hms =
      TWO_DIGITS[Math.floor(sec / 3600)] +
      ':' +
      TWO_DIGITS[Math.floor(sec / 60) % 60] +
      ':' +
      TWO_DIGITS[sec % 60];
    return `${date}T${hms}+00:00`;
  };
}

interface GenerateContext {
  seed: number;
  fromSec: number;
  toSec: number;
  prefix: string;
  formatDate: (ms: number) => string;
}

/** Offer `index` of a seed, with its hidden createdAt; depends only on (seed, index). */
function generateOne(ctx: GenerateContext, index: number): { offer: Offer; createdAt: number } {
  const [hi, lo] = scramble(ctx.seed, index);
  const rnd = mulberry32(mix32(hi ^ mix32(lo)));
  const word = (): number => Math.floor(rnd() * 4294967296);
  // All 64 scrambled bits are kept (around the version nibble), so ids stay unique.
  const h = hex32(hi) + hex32(lo);
  const tail = hex32(word()) + hex32(word());
  const id =
    `${ctx.prefix}${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(12, 15)}-` +
    `${'89ab'[word() & 3]}${h[15]}${tail.slice(0, 2)}-${tail.slice(2, 14)}`;

  const launchMs = (ctx.fromSec + Math.floor(rnd() * (ctx.toSec - ctx.fromSec + 1))) * 1000;
  const createdAt = launchMs - Math.floor(rnd() * 10 * 86_400) * 1000;
  const endDate =
    rnd() < 0.4 ? null : ctx.formatDate(launchMs + (30 + Math.floor(rnd() * 336)) * DAY_MS);
  const pool = [...CATEGORIES];
  const categories: string[] = [];
  for (let n = Math.floor(rnd() * 4); n > 0; n--) {
    categories.push(pool.splice(Math.floor(rnd() * pool.length), 1)[0]);
  }
  const name = `Offer ${index + 1} ${NAME_WORDS[Math.floor(rnd() * NAME_WORDS.length)]}`;
  const budgetAmount =
    rnd() < 0.5 ? 1 + Math.floor(rnd() * 10_000) : Math.round((1 + rnd() * 10_000) * 100) / 100;
  const offerType = rnd() < 0.5 ? 'SingleEvent' : 'MultiEvent';
  const launchDate = ctx.formatDate(launchMs);
  return {
    offer: { id, categories, name, budgetAmount, launchDate, endDate, offerType },
    createdAt,
  };
}

/** Calls `emit` for each generated offer with its hidden createdAt (launchDate minus 0–10 days). */
export function generate(
  count: number,
  seed: number,
  opts: GenerateOptions,
  emit: (offer: Offer, createdAt: number) => void,
): void {
  const firstIndex = opts.firstIndex ?? 0;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!Number.isSafeInteger(firstIndex) || firstIndex < 0 || firstIndex + count > 2 ** 32) {
    throw new RangeError(`firstIndex + count must stay within 0..2^32, got ${firstIndex}`);
  }
  const ctx: GenerateContext = {
    seed,
    fromSec: Math.ceil((opts.from?.getTime() ?? DEFAULT_FROM) / 1000),
    toSec: Math.floor((opts.to?.getTime() ?? DEFAULT_TO) / 1000),
    prefix: opts.idPrefix ?? '',
    formatDate: apiDateFormatter(),
  };
  if (!(ctx.fromSec <= ctx.toSec)) throw new RangeError('from must not be after to');
  for (let i = 0; i < count; i++) {
    const { offer, createdAt } = generateOne(ctx, firstIndex + i);
    emit(offer, createdAt);
  }
}

/**
 * Deterministic for a seed. The simulator seeds itself through the same generator and
 * keeps each offer's createdAt on the side, so it is never serialized.
 */
export function generateOffers(count: number, seed: number, opts: GenerateOptions = {}): Offer[] {
  const offers: Offer[] = [];
  generate(count, seed, opts, (offer) => offers.push(offer));
  return offers;
}
