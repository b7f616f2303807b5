/**
 * `sessmap/metrics`: sessmap's figures on a prom-client registry (prom-client, an optional peer
 * dependency, is loaded here only, when the default registry is used).
 */
export { registerMetrics, type MetricsHandle, type MetricsOptions, type MetricsRegistry } from './register.js';
