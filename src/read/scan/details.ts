import { setMaxListeners } from 'events';
import { ApiRecord } from '../../api/types';

/** One detail request in flight, in list order. */
interface Slot<T> {
  promise: Promise<T | undefined>;
  /** Resolves (never rejects) once the request settled. */
  done: Promise<'detail'>;
  settled: boolean;
}

/**
 * For each record the list yields, one detail request; up to `limit()` in flight
 * (read before each new request, so a lowered limit holds from the next one;
 * details that arrived but wait behind an earlier one count too, which bounds
 * memory). Pipelined with the list: records are taken as its pages arrive, and a
 * page is asked for while details are in flight. Details are yielded in list
 * order, the first one awaited together with those behind it that already
 * arrived. `fetch` answering undefined skips the record. The first failure ends
 * it: the requests in flight are cancelled and the list is closed (so are its
 * pages in flight), as when the consumer stops.
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
  let page: Promise<IteratorResult<ApiRecord[]>> | undefined; // the list's next page, asked for
  let listDone = false;
  const request = (record: ApiRecord): Slot<T> => {
    const promise = fetch(record, abort.signal);
    const slot: Slot<T> = { promise, done: promise.then(settle, settle), settled: false };
    function settle(): 'detail' {
      slot.settled = true;
      return 'detail';
    }
    return slot;
  };
  try {
    for (;;) {
      const max = Math.max(1, limit());
      while (inFlight.length < max && next < waiting.length) {
        inFlight.push(request(waiting[next++]));
      }
      if (next === waiting.length && !listDone && !page) {
        page = list.next();
        page.catch(() => {}); // its error surfaces where it is awaited
      }
      // With room for more requests, the next page is awaited too: whichever comes first.
      if (page && inFlight.length < max) {
        const first = inFlight.length
          ? await Promise.race([page.then(() => 'page' as const), inFlight[0].done])
          : 'page';
        if (first === 'page') {
          const result = await page;
          page = undefined;
          if (result.done) listDone = true;
          else [waiting, next] = [result.value, 0];
          continue;
        }
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
    // A page still awaited delays the list's return until it settles: not waited for here
    // (the read's own signal cancels that request when this ends).
    const closed = list.return(undefined).catch(() => {});
    if (!page) await closed;
  }
}
