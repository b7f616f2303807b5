/**
 * One cluster test file at a time, across vitest's workers (test/cluster and test/adapters both
 * start clusters; on two cores, two at once would starve each other). The slot is an abstract
 * Unix socket: the kernel releases it when its holder exits, so a crashed runner never keeps it.
 */
import net from 'node:net';
import { sleep } from '../support/wait.js';

const SLOT_NAME = '\0sessmap-cluster-tests';

export async function acquireClusterSlot(): Promise<net.Server> {
  for (;;) {
    const server = net.createServer();
    const got = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(SLOT_NAME, () => resolve(true));
    });
    if (got) {
      server.unref();
      return server;
    }
    server.close();
    await sleep(100);
  }
}
