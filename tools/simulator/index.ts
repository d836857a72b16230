/** The GoKart simulator: `import { GoKartSimulator } from '../tools/simulator'`. */
export { OFFERS_PATH } from './api';
export { REPEAT_TOTAL_PAGES } from './faults';
export type { Fault, Rewrite } from './faults';
export { generateOffers, mulberry32 } from './generate';
export type { GenerateOptions, Offer } from './generate';
export { GoKartSimulator } from './server';
export type { RequestLogEntry } from './server';
export type { SimulatorOptions, SortMode } from './options';
