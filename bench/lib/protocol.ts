/** Messages between the bench runner and the child processes that do the measuring. */

/** Parent to child: run `task` exported by `module` (an absolute path) with `args`. */
export interface RunMessage {
  type: 'run';
  module: string;
  task: string;
  args: unknown;
}
/** Parent to child: every child of the group is ready; start the timed part. */
export interface GoMessage {
  type: 'go';
}
export type ToChild = RunMessage | GoMessage;

/** Child to parent: set-up and warm-up done, waiting for `go`. */
export interface ReadyMessage {
  type: 'ready';
}
export interface ResultMessage {
  type: 'result';
  result: unknown;
}
export interface ErrorMessage {
  type: 'error';
  message: string;
  stack: string | undefined;
}
export type FromChild = ReadyMessage | ResultMessage | ErrorMessage;

/** What a task receives besides its args. */
export interface TaskContext {
  /** Tell the parent this child is ready and wait until every child of the group is (the barrier). */
  barrier(): Promise<void>;
}

/** A task exported by a scenario module and run in a child. */
export type Task<A, R> = (args: A, ctx: TaskContext) => R | Promise<R>;
