/**
 * Entry of a bench child process (forked with `--import tsx --expose-gc`): runs one task of a
 * scenario module and sends back its result. Measuring in children keeps each store in a fresh
 * heap and JIT, and lets mix2 run two at once.
 */
import { pathToFileURL } from 'node:url';
import type { FromChild, TaskContext, ToChild } from './protocol.js';

let releaseGo: (() => void) | undefined;
const go = new Promise<void>((resolve) => {
  releaseGo = resolve;
});

function send(msg: FromChild): Promise<void> {
  return new Promise((resolve) => {
    process.send?.(msg, () => resolve());
  });
}

const ctx: TaskContext = {
  async barrier() {
    await send({ type: 'ready' });
    await go;
  },
};

async function run(module: string, task: string, args: unknown): Promise<void> {
  try {
    const mod = (await import(pathToFileURL(module).href)) as Record<string, unknown>;
    const fn = mod[task];
    if (typeof fn !== 'function') throw new Error(`${module} has no task ${task}`);
    const result: unknown = await (fn as (a: unknown, c: TaskContext) => unknown)(args, ctx);
    await send({ type: 'result', result });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    await send({ type: 'error', message: e.message, stack: e.stack });
  }
  process.exit(0);
}

process.on('message', (msg: ToChild) => {
  if (msg.type === 'go') releaseGo?.();
  else if (msg.type === 'run') void run(msg.module, msg.task, msg.args);
});
