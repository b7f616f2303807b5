/**
 * `sessmap/mmap`: the session backend on one memory-mapped file per host. Chosen by default (no
 * other backend's option given); the cluster layer and the adapters load it with import() when
 * they need it, so an app on another backend never loads it.
 */
export { MmapBackend } from './backend.js';
export { DEFAULT_MMAP_OPTIONS, type MmapBackendOptions } from './options.js';
