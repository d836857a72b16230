import { StreamDefinition } from './definition';
import { offerDetails } from './offer_details';
import { offers } from './offers';

/**
 * Every stream this source reads; a new stream is one module in src/streams/ listed here.
 * `offers` comes first: `check` reads a page of the first stream.
 */
export const STREAMS: readonly StreamDefinition[] = [offers, offerDetails];

export function streamByName(name: unknown): StreamDefinition | undefined {
  return STREAMS.find((s) => s.name === name);
}
