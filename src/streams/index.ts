import { StreamDefinition } from './definition';
import { offers } from './offers';

/** Every stream this source reads; a new stream is one module in src/streams/ listed here. */
export const STREAMS: readonly StreamDefinition[] = [offers];

export function streamByName(name: unknown): StreamDefinition | undefined {
  return STREAMS.find((s) => s.name === name);
}
