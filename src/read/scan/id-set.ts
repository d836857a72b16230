/** A 32-bit hash of a string's UTF-16 code units. */
export type StringHash = (s: string) => number;

// Looked up once: under a sandboxed global (jest's vm) each `Math.imul` lookup is ~50× slower.
const { imul } = Math;

/** FNV-1a over the UTF-16 code units, then a murmur3 finaliser so that similar ids spread over the table. */
export const fnv1a: StringHash = (s) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = imul(h ^ s.charCodeAt(i), 0x01000193);
  h = imul(h ^ (h >>> 16), 0x85ebca6b);
  h = imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
};

/** Entry offsets are 32-bit: the arena holds at most 4 GiB. */
const MAX_ARENA = 0xffffffff;
/** Arena chunks of 1 MiB. */
const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;

/**
 * An exact set of strings held off the JS heap, in typed arrays, for millions of ids:
 * - an arena of the strings' UTF-16 code units, one byte per unit when all of a string's
 *   units are below 256, else two (low byte first), flagged per entry. It grows by 1 MiB
 *   chunks that are never copied (an entry may span two), so growing it needs no
 *   transient second copy;
 * - per-entry arrays (arena offsets, width, hash, tag) and an open-addressing hash table
 *   (linear probing, at most half full) of entry numbers, which grow by doubling.
 * A lookup compares the stored code units, never only a hash: no false positives,
 * whatever the ids (empty, long, non-ASCII, lone surrogates, colliding hashes). Entries
 * are numbered 0, 1, … in the order they were added, are never removed, and each
 * carries a 32-bit tag (0 when added) for its owner's use.
 */
export class IdSet {
  /** Byte `at` of the arena is chunks[at >>> CHUNK_BITS][at & (CHUNK - 1)]. */
  private readonly chunks: Uint8Array[] = [];
  /** Entry e is arena bytes offsets[e] up to offsets[e + 1]. */
  private offsets = new Uint32Array(65);
  /** 1 when entry e is stored as two bytes per code unit. */
  private wide = new Uint8Array(64);
  private hashes = new Uint32Array(64);
  private tags = new Uint32Array(64);
  /** Entry number + 1 per slot; 0 is an empty slot. */
  private slots = new Int32Array(128);
  private count = 0;

  constructor(private readonly hash: StringHash = fnv1a) {}

  get size(): number {
    return this.count;
  }

  /** Adds `id`; true when it was not in the set. */
  add(id: string): boolean {
    const before = this.count;
    this.entry(id);
    return this.count > before;
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  /** The entry number of `id`, or -1 when it is not in the set. */
  find(id: string): number {
    return this.slots[this.slotOf(id, this.hash(id) >>> 0)] - 1;
  }

  /** The entry number of `id`, added first when it is not in the set. */
  entry(id: string): number {
    const hash = this.hash(id) >>> 0;
    const slot = this.slotOf(id, hash);
    return this.slots[slot] ? this.slots[slot] - 1 : this.append(id, hash, slot);
  }

  tag(entry: number): number {
    return this.tags[entry];
  }

  setTag(entry: number, value: number): void {
    this.tags[entry] = value;
  }

  /** The slot holding `id`, or the empty slot where it belongs. */
  private slotOf(id: string, hash: number): number {
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot] - 1;
      if (entry < 0 || (this.hashes[entry] === hash && this.equals(entry, id))) return slot;
    }
  }

  private byte(at: number): number {
    return this.chunks[at >>> CHUNK_BITS][at & (CHUNK - 1)];
  }

  private setByte(at: number, value: number): void {
    this.chunks[at >>> CHUNK_BITS][at & (CHUNK - 1)] = value;
  }

  private equals(entry: number, id: string): boolean {
    const start = this.offsets[entry];
    const wide = this.wide[entry];
    if (this.offsets[entry + 1] - start !== id.length << wide) return false;
    for (let i = 0, at = start; i < id.length; i++, at += 1 + wide) {
      const unit = wide ? this.byte(at) | (this.byte(at + 1) << 8) : this.byte(at);
      if (unit !== id.charCodeAt(i)) return false;
    }
    return true;
  }

  private append(id: string, hash: number, slot: number): number {
    const entry = this.count;
    if (entry === this.hashes.length) this.growEntries();
    let wide = 0;
    for (let i = 0; i < id.length && !wide; i++) if (id.charCodeAt(i) > 0xff) wide = 1;
    const start = this.offsets[entry];
    const end = start + (id.length << wide);
    if (end > MAX_ARENA) throw new RangeError('IdSet: the ids exceed 4 GiB');
    while (end > this.chunks.length * CHUNK) this.chunks.push(new Uint8Array(CHUNK));
    for (let i = 0, at = start; i < id.length; i++, at += 1 + wide) {
      const unit = id.charCodeAt(i);
      this.setByte(at, unit); // the low byte: a Uint8Array keeps only that
      if (wide) this.setByte(at + 1, unit >>> 8);
    }
    this.offsets[entry + 1] = end;
    this.wide[entry] = wide;
    this.hashes[entry] = hash;
    this.slots[slot] = entry + 1;
    if (++this.count * 2 > this.slots.length) this.rehash();
    return entry;
  }

  private growEntries(): void {
    this.offsets = doubled(this.offsets, (n) => new Uint32Array(n));
    this.wide = doubled(this.wide, (n) => new Uint8Array(n));
    this.hashes = doubled(this.hashes, (n) => new Uint32Array(n));
    this.tags = doubled(this.tags, (n) => new Uint32Array(n));
  }

  /** A table twice as large, the entries placed again by their stored hashes. */
  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = this.hashes[entry] & mask;
      while (slots[slot]) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.slots = slots;
  }
}

/** A copy of `array` twice as long. */
function doubled<A extends Uint8Array | Uint32Array>(array: A, make: (length: number) => A): A {
  const copy = make(array.length * 2);
  copy.set(array);
  return copy;
}
