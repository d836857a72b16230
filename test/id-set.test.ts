import { fnv1a, IdSet, StringHash } from '../src/read/scan/id-set';
import { SeenIds } from '../src/read/scan/seen-ids';

/** A seeded generator (mulberry32): the same ops on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Code units of every kind: ASCII, Latin-1 (one byte), BMP (two), lone and paired surrogates, NUL. */
const UNITS = [
  'a',
  'b',
  '0',
  '-',
  '\u0000',
  '\u00e9',
  '\u00ff',
  '\u0100',
  '\u20ac',
  '\ud800',
  '\udc00',
];

/** Ids that differ from each other in one unit, length or width: what a sloppy comparison confuses. */
function ids(next: () => number, count: number): string[] {
  const pick = (n: number): number => Math.floor(next() * n);
  const out = ['', 'x'];
  while (out.length < count) {
    const base = out[pick(out.length)];
    const kind = pick(4);
    if (kind === 0) out.push(`${base}${UNITS[pick(UNITS.length)]}`);
    else if (kind === 1 && base.length) {
      const at = pick(base.length);
      out.push(base.slice(0, at) + UNITS[pick(UNITS.length)] + base.slice(at + 1));
    } else if (kind === 2) out.push(crypto.randomUUID().slice(0, 8 + pick(29)));
    else out.push(`offer-${pick(1_000_000)}${pick(3) ? '' : '😀'}`);
  }
  return out;
}

/** Runs `ops` random adds and lookups on an IdSet and a Set together; they must agree on each. */
function againstSet(set: IdSet, pool: string[], ops: number, next: () => number): void {
  const model = new Set<string>();
  for (let op = 0; op < ops; op++) {
    const id = pool[Math.floor(next() * pool.length)];
    if (next() < 0.6) {
      if (set.add(id) !== !model.has(id)) throw new Error(`add(${JSON.stringify(id)}) at op ${op}`);
      model.add(id);
    } else if (set.has(id) !== model.has(id)) {
      throw new Error(`has(${JSON.stringify(id)}) at op ${op}`);
    }
    if (set.size !== model.size) throw new Error(`size ${set.size} ≠ ${model.size} at op ${op}`);
  }
  expect(pool.filter((id) => set.has(id) !== model.has(id))).toEqual([]);
}

describe('IdSet', () => {
  it('agrees with a JS Set over 100k random adds and lookups of mixed ids', () => {
    const next = random(11);
    const set = new IdSet();
    againstSet(set, ids(next, 40_000), 100_000, next);
    expect(set.size).toBeGreaterThan(20_000); // the table doubled many times
  });

  it('stays exact when every id has the same hash, or one of two', () => {
    const next = random(12);
    const pool = ids(next, 3_000);
    againstSet(new IdSet(() => 0), pool, 10_000, next);
    againstSet(new IdSet((s) => s.length & 1), pool, 10_000, next);
  });

  it('keeps near-identical UUID-like ids apart across many doublings', () => {
    const set = new IdSet();
    const id = (i: number): string => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    const wrong: number[] = [];
    for (let i = 0; i < 200_000; i++) if (!set.add(id(i))) wrong.push(i);
    for (let i = 0; i < 200_000; i++) if (set.add(id(i)) || set.find(id(i)) !== i) wrong.push(i);
    expect(wrong).toEqual([]);
    expect(set.size).toBe(200_000);
    expect(set.has(id(200_000))).toBe(false);
  });

  it('tells apart the empty string, widths, NUL and surrogates', () => {
    // '\u0100' is stored as the bytes 00 01, as is '\u0000\u0001': same bytes, not the same id.
    const tricky = [
      '',
      '\u0000',
      '\u0000\u0001',
      '\u0100',
      '\u00ff',
      'ÿ\u0100',
      '\ud800',
      '\udc00',
    ];
    tricky.push('\ud800\udc00', '😀', '\udc00\ud800');
    // Long ids span the arena's 1 MiB chunks.
    const long = 'a'.repeat(1_500_000);
    const wide = 'é\u0100'.repeat(400_000);
    tricky.push(long, `${long}b`, `${long.slice(1)}b`, wide, `${wide}a`, `${wide.slice(1)}\u0101`);
    for (const hash of [fnv1a, (() => 7) as StringHash]) {
      const set = new IdSet(hash);
      expect(set.has('')).toBe(false);
      for (const id of tricky) expect(set.add(id)).toBe(true);
      for (const id of tricky) expect(set.add(id)).toBe(false);
      expect(set.size).toBe(tricky.length);
      expect(tricky.map((id) => set.find(id))).toEqual(tricky.map((_, i) => i));
      for (const id of ['\u0001', '\u0001\u0000', long.slice(1), wide.slice(2), '\ud801']) {
        expect(set.has(id)).toBe(false);
      }
    }
  });

  it("keeps each entry's tag through growth", () => {
    const set = new IdSet();
    for (let i = 0; i < 5_000; i++) {
      const entry = set.entry(`id${i}`);
      expect(set.tag(entry)).toBe(0);
      set.setTag(entry, i * 7);
    }
    for (let i = 0; i < 5_000; i++) expect(set.tag(set.entry(`id${i}`))).toBe(i * 7);
    expect(set.find('id5000')).toBe(-1);
  });
});

describe('SeenIds', () => {
  it('counts an id once per pass, and emits it once per sync whatever the passes', () => {
    const seen = new SeenIds();
    expect([seen.observe('a', 1), seen.observe('a', 1), seen.observe('b', 1)]).toEqual([
      true,
      false,
      true,
    ]);
    expect([seen.emit('a'), seen.emit('a'), seen.observe('a', 1)]).toEqual([true, false, false]);
    // Pass 2 counts 'a' again, and emitting it before does not change that, nor the reverse.
    expect([seen.observe('a', 2), seen.observe('a', 2)]).toEqual([true, false]);
    expect([seen.emit('a'), seen.emit('b'), seen.emit('c')]).toEqual([false, true, true]);
    expect([seen.observe('b', 2), seen.observe('c', 2), seen.observe('c', 3)]).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('agrees with a Map and a Set when pages are observed whole and emitted in order, with skips and strays', () => {
    const rnd = random(23);
    const seen = new SeenIds();
    const lastPass = new Map<string, number>();
    const emitted = new Set<string>();
    const pool = Array.from({ length: 400 }, (_, i) => `offer-${i}`);
    const pick = () => pool[Math.floor(rnd() * pool.length)];
    for (let pass = 1; pass <= 4; pass++) {
      for (let p = 0; p < 60; p++) {
        // Pages may repeat ids, within the page and across pages and passes.
        const items = Array.from({ length: Math.floor(rnd() * 30) }, () => ({ id: pick() }));
        let fresh = 0;
        for (const { id } of items) {
          if (lastPass.get(id) !== pass) fresh++;
          lastPass.set(id, pass);
        }
        expect(seen.observePage(items, pass)).toBe(fresh);
        // The scan emits a page's records in order, some filtered out; strays test the fallback.
        for (const { id } of items) {
          if (rnd() < 0.3) continue;
          const stray = rnd() < 0.05 ? pick() : undefined;
          for (const emit of stray === undefined ? [id] : [stray, id]) {
            expect(seen.emit(emit)).toBe(!emitted.has(emit));
            emitted.add(emit);
          }
        }
      }
    }
    expect(emitted.size).toBeGreaterThan(300);
  });
});
