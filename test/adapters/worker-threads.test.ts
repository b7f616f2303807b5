import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { fixture } from '../helpers/paths.js';
import { useTmpDir } from '../helpers/tmp.js';
import { FRAMEWORKS, type Framework, type ThreadData } from '../fixtures/adapters/wire.js';
import { CookieJar, request } from './http.js';

/** A worker_thread running a test app on its own port (test/fixtures/adapters/thread.ts). */
class AppThread {
  readonly worker: Worker;
  readonly #messages: Array<{ type: string; port?: number; error?: string }> = [];
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(data: ThreadData) {
    this.worker = new Worker(pathToFileURL(fixture('thread-boot.mjs')), {
      workerData: { script: pathToFileURL(fixture('adapters/thread.ts')).href, ...data },
    });
    this.worker.on('message', (m) => {
      this.#messages.push(m);
      this.#wake?.();
    });
    this.worker.on('error', (err: unknown) => {
      this.#failure = err instanceof Error ? err : new Error(String(err));
      this.#wake?.();
    });
    this.worker.on('exit', (code) => {
      this.#failure ??= new Error(`the app thread exited with code ${code}`);
      this.#wake?.();
    });
  }

  async next(type: string): Promise<{ type: string; port?: number; error?: string }> {
    for (;;) {
      const i = this.#messages.findIndex((m) => m.type === type);
      if (i >= 0) return this.#messages.splice(i, 1)[0];
      if (this.#failure) throw this.#failure;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  async close(): Promise<void> {
    this.worker.postMessage({ type: 'close' });
    const m = await this.next('closed').catch(() => undefined);
    await this.worker.terminate();
    if (m?.error) throw new Error(m.error);
  }
}

describe.each(FRAMEWORKS)('%s in worker_threads', (framework: Framework) => {
  const tmp = useTmpDir();
  const threads: AppThread[] = [];
  afterEach(async () => {
    await Promise.all(threads.splice(0).map((t) => t.close().catch(() => t.worker.terminate())));
  });

  it('shares sessions between two threads whose adapters open the same path', async () => {
    const path = tmp.path('threads.smap');
    const [a, b] = [0, 1].map(() => new AppThread({ framework, path, app: { cookieMaxAge: 60_000 } }));
    threads.push(a, b);
    const [pa, pb] = await Promise.all([a.next('ready'), b.next('ready')]).then((ms) => ms.map((m) => m.port!));

    const jar = new CookieJar();
    expect((await request(pa, jar, 'POST', '/login?user=thready')).body.user).toBe('thready');
    expect((await request(pb, jar, 'GET', '/me')).body.user).toBe('thready');
    // Writes alternate between the threads, each seeing the one before.
    for (let views = 1; views <= 4; views++) {
      expect((await request(views % 2 === 1 ? pa : pb, jar, 'POST', '/visit')).body).toMatchObject({ user: 'thready', views });
    }
    const kept = jar.clone();
    await request(pb, jar, 'POST', '/logout');
    expect((await request(pa, kept, 'GET', '/me', { keep: true })).body.user).toBeNull();
  });
});
