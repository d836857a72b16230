/**
 * The offer-details endpoint's object (docs: "Partner – GET Offer Details"): the list offer's
 * `id`, `name` and `categories`, the documented text fields, and undocumented nested parts
 * (payout, events, creatives, targeting) of varying size, some empty, some null. Everything
 * not taken from the list offer depends only on (seed, id), so a detail is reproducible and
 * follows the offer when it is updated.
 */
import { hex32, mix32, mulberry32, Offer } from './generate';

export interface Money {
  amount: number;
  currency: string;
}

export interface OfferDetail {
  id: string;
  payoutId: string;
  name?: unknown;
  headline: string;
  shortDescription: string;
  keyPoints: string;
  offerDetails: string;
  termsAndDisclaimers: string;
  categories?: unknown;
  payout: ({ type: string } & Money) | null;
  events: { id: string; name: string; payout: Money | null }[] | null;
  creatives: { type: string; url: string; width: number; height: number }[] | null;
  targeting: { countries: string[]; platforms: string[] } | null;
}

const PAYOUT_TYPES = ['CPA', 'CPL', 'CPI', 'RevShare'];
const CURRENCIES = ['USD', 'EUR', 'GBP'];
const EVENT_NAMES = ['Signup', 'First deposit', 'KYC passed', 'First trade', 'Day 7 active'];
const CREATIVE_SIZES: [string, number, number][] = [
  ['banner', 728, 90],
  ['banner', 300, 250],
  ['icon', 512, 512],
  ['video', 1920, 1080],
];
const COUNTRIES = ['US', 'CA', 'GB', 'DE', 'FR', 'AU', 'BR', 'IN'];
const PLATFORMS = ['ios', 'android', 'web'];

/** A PRNG seeded from (seed, id): FNV-1a over the id, mixed with both halves of the seed. */
function rngFor(seed: number, id: string): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  const high = Math.floor(seed / 2 ** 32);
  return mulberry32(mix32(h ^ mix32((seed >>> 0) ^ mix32(high >>> 0))));
}

/** `count` distinct items of `pool`, in pool order. */
function pick<T>(rnd: () => number, pool: readonly T[], count: number): T[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, pool.length)) chosen.add(Math.floor(rnd() * pool.length));
  return [...chosen].sort((a, b) => a - b).map((i) => pool[i]);
}

export function offerDetail(offer: Offer, seed: number): OfferDetail {
  const rnd = rngFor(seed, offer.id);
  const int = (n: number): number => Math.floor(rnd() * n);
  const uuid = (): string => {
    const h = hex32(int(2 ** 32)) + hex32(int(2 ** 32)) + hex32(int(2 ** 32));
    const v = '89ab'[int(4)];
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(12, 15)}-${v}${h.slice(15, 18)}-${h.slice(18, 24)}${hex32(int(2 ** 32)).slice(0, 6)}`;
  };
  const money = (): Money => ({
    amount: Math.round((0.5 + rnd() * 200) * 100) / 100,
    currency: CURRENCIES[int(CURRENCIES.length)],
  });
  const payoutId = uuid();
  const payout = rnd() < 0.1 ? null : { type: PAYOUT_TYPES[int(PAYOUT_TYPES.length)], ...money() };
  // A SingleEvent offer has one event; a MultiEvent offer 0 to 5; a few say null. (Drawn
  // either way, so a changed offerType leaves the other parts as they were.)
  const multiEvents = int(6);
  const eventCount = offer.offerType === 'SingleEvent' ? 1 : multiEvents;
  const events =
    rnd() < 0.05
      ? null
      : pick(rnd, EVENT_NAMES, eventCount).map((name) => ({
          id: uuid(),
          name,
          payout: rnd() < 0.2 ? null : money(),
        }));
  const creatives =
    rnd() < 0.1
      ? null
      : pick(rnd, CREATIVE_SIZES, int(CREATIVE_SIZES.length + 1)).map(([type, width, height]) => ({
          type,
          url: `https://cdn.gokart.example/${offer.id}/${type}-${width}x${height}.png`,
          width,
          height,
        }));
  const targeting =
    rnd() < 0.15
      ? null
      : {
          countries: pick(rnd, COUNTRIES, int(COUNTRIES.length + 1)),
          platforms: pick(rnd, PLATFORMS, 1 + int(PLATFORMS.length)),
        };
  const title = typeof offer.name === 'string' ? offer.name : 'this offer';
  const reward = payout ? `${payout.amount} ${payout.currency}` : 'a reward';
  return {
    id: offer.id,
    payoutId,
    // Undefined when the list offer lacks them (JSON.stringify drops the key, as the list does).
    name: offer.name,
    headline: `Earn ${reward} with ${title}`,
    shortDescription: `${title}: complete ${events?.length ?? 0} step(s) and get paid.`,
    keyPoints: events?.map((e) => e.name).join(' • ') ?? '',
    offerDetails: `Join ${title}.<br/>Complete the steps within 30 days.<br/><b>Paid monthly.</b>`,
    termsAndDisclaimers: `New users only. ${title} terms apply. Offer ${offer.id}.`,
    categories: offer.categories,
    payout,
    events,
    creatives,
    targeting,
  };
}
