import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopProcess, track } from '../../kit/child-processes.js';

/** A message between the orchestrator and a worker; `type` says which. */
export interface Message {
  type: string;
}

interface Waiter {
  type: string;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A forked worker script from dist/bench/workers/ (`script`: its file name)
 * with typed request/reply over IPC, tracked so that the run's clean-up
 * stops it. `next(type)` waits for the next message of that type; a worker
 * that reports `fatal` or exits before `stop()` fails every waiter, so a
 * crash is an error in the scenario, never a hang.
 */
export class Worker {
  readonly proc: ChildProcess;
  private readonly inbox: Message[] = [];
  private waiters: Waiter[] = [];
  private failure: Error | undefined;
  private stopping = false;

  constructor(
    readonly name: string,
    script: string,
    options: { execArgv?: string[]; onProgress?: (m: Message) => void } = {},
  ) {
    this.proc = fork(fileURLToPath(new URL(`../workers/${script}`, import.meta.url)), [], {
      execArgv: options.execArgv ?? [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    track(this.proc);
    this.proc.on('message', (raw) => {
      const m = raw as Message & { message?: string };
      if (m.type === 'fatal') return this.fail(new Error(`${name} failed: ${m.message ?? 'unknown error'}`));
      if (m.type === 'progress') return options.onProgress?.(m);
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i < 0) return void this.inbox.push(m);
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(m);
    });
    this.proc.on('exit', (code, signal) => {
      if (!this.stopping) this.fail(new Error(`${name} exited unexpectedly (code ${code}, signal ${signal})`));
    });
  }

  get pid(): number {
    return this.proc.pid ?? NaN;
  }

  send(m: Message): void {
    if (this.failure) throw this.failure;
    this.proc.send(m);
  }

  /** The next message of `type` (queued or future). */
  next<T extends Message>(type: T['type'], timeoutMs: number): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`${this.name}: no "${type}" message within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiters.push({ type, resolve: resolve as (m: Message) => void, reject, timer });
    });
  }

  /** Asks the worker to exit, then makes sure it did. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    if (this.proc.connected) this.proc.send({ type: 'exit' });
    const exited = new Promise((r) => this.proc.once('exit', r));
    const timer = setTimeout(() => void stopProcess(this.proc), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
