/**
 * The load generator: a child process of the benchmark that runs autocannon when the primary
 * asks and sends the result back, so that its CPU time is read apart from the cluster primary's
 * (from /proc/<pid>/stat, by the primary). Idle between runs.
 */
import { runLoad } from './load.js';
import { isBenchMessage, type LoaderCommand, type LoaderMessage } from './protocol.js';

const send = (m: LoaderMessage): void => {
  process.send?.(m);
};

process.on('message', (m: unknown) => {
  if (!isBenchMessage(m)) return;
  const cmd = m as LoaderCommand;
  if (cmd.kind === 'exit') process.exit(0);
  if (cmd.kind !== 'load') return;
  runLoad(cmd.options).then(
    (result) => send({ bench: 1, kind: 'result', id: cmd.id, result }),
    (err: unknown) => send({ bench: 1, kind: 'load-failed', id: cmd.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
// The primary going away (Ctrl-C, a crash) ends the load generator too.
process.on('disconnect', () => process.exit(0));
send({ bench: 1, kind: 'ready', pid: process.pid });
