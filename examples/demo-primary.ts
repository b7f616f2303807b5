/**
 * setupPrimary for the examples: a demo file left by a sessmap of another file format is started
 * afresh, with a message. sessmap itself never does this (SESSMAP_ERR_FILE_VERSION); an app that
 * chooses to must know that no process of the other version still uses the file.
 */
import { isSessmapError, setupPrimary, type PrimaryHandle, type SessionServiceOptions } from '../src/index.js';

export function setupDemoPrimary(options: SessionServiceOptions): PrimaryHandle {
  try {
    return setupPrimary(options);
  } catch (err) {
    if (!isSessmapError(err, 'SESSMAP_ERR_FILE_VERSION')) throw err;
    console.log(`[primary] ${err.message}: reinitialising it`);
    return setupPrimary({ ...options, ifExists: 'reinit' });
  }
}
