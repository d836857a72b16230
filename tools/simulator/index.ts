/** The GoKart simulator: `import { GoKartSimulator } from '../tools/simulator'`. */
export { OFFERS_PATH } from './api';
export { REPEAT_TOTAL_PAGES } from './faults';
export type { Fault, FaultTarget, Rewrite } from './faults';
export { offerDetail } from './details';
export type { OfferDetail } from './details';
export { generateOffers, mulberry32 } from './generate';
export type { GenerateOptions, Offer } from './generate';
export { GoKartSimulator } from './server';
export type { RequestLogEntry } from './server';
export type { DetailsShape, SimulatorOptions, SortMode } from './options';
