import { setMaxListeners } from 'events';
import { ApiRecord } from '../../api/types';

/** One detail request in flight, in list order. */
interface Slot<T> {
  promise: Promise<T | undefined>;
  settled: boolean;
}

/**
 * For each record the list yields, one detail request; up to `limit()` in flight
 * (read before each new request, so a lowered limit holds from the next one), and
 * pipelined with the list: records are taken as its pages arrive, not after the
 * whole list. Details are yielded in list order, the first one awaited together
 * with those behind it that already arrived. `fetch` answering undefined skips the
 * record. The first failure ends it: the requests in flight are cancelled and the
 * list is closed (so are its pages in flight), as when the consumer stops.
 */
export async function* detailsInOrder<T>(
  list: AsyncGenerator<ApiRecord[]>,
  fetch: (record: ApiRecord, signal: AbortSignal) => Promise<T | undefined>,
  limit: () => number,
): AsyncGenerator<T[]> {
  const abort = new AbortController();
  // Each request in flight listens on the signal: up to 16 at once is expected.
  setMaxListeners(64, abort.signal);
  const inFlight: Slot<T>[] = [];
  let waiting: ApiRecord[] = [];
  let next = 0; // the first record of `waiting` not yet requested
  let listDone = false;
  const request = (record: ApiRecord): Slot<T> => {
    const slot: Slot<T> = { promise: fetch(record, abort.signal), settled: false };
    const settle = () => (slot.settled = true);
    slot.promise.then(settle, settle); // errors surface when the slot is taken
    return slot;
  };
  try {
    for (;;) {
      while (inFlight.length < Math.max(1, limit())) {
        if (next < waiting.length) {
          inFlight.push(request(waiting[next++]));
          continue;
        }
        if (listDone) break;
        // The list's own window keeps its next pages in flight meanwhile.
        const page = await list.next();
        if (page.done) listDone = true;
        else [waiting, next] = [page.value, 0];
      }
      if (!inFlight.length) return;
      const batch: T[] = [];
      do {
        const detail = await inFlight.shift()!.promise;
        if (detail !== undefined) batch.push(detail);
      } while (inFlight.length && inFlight[0].settled);
      if (batch.length) yield batch;
    }
  } finally {
    abort.abort();
    await list.return(undefined).catch(() => {});
  }
}
