import { DRIVERS } from './drivers.js';
import { testAdapter } from './contract.js';

// The same contract for every adapter (contract.ts); their own cases are in <framework>-store.test.ts.
for (const driver of DRIVERS) testAdapter(driver);
