// The process of bench/peers/durable-claude-long.ts, seen from the harness: one JSON object per line each way, with
// progress lines while a request runs; a request fails when the peer goes silent (a 5,000-turn chat takes many minutes).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { LargeResultsSpec } from './large-results-scenario';
import type { LongChatShape } from './long-chat-scenario';

export type LongPeerRequest =
  | { id: number; scenario: 'long_chat'; shape: LongChatShape; marker: string }
  | { id: number; scenario: 'large_results'; spec: LargeResultsSpec };

/** A request as the caller gives it; the peer adds the id. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Body = WithoutId<LongPeerRequest>;

interface Reply {
  id?: number;
  ready?: boolean;
  progress?: string;
  result?: unknown;
  error?: string;
}

export class LongPeer {
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  readonly #waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void; progress: (line: string) => void }>();
  #stderr = '';
  #nextId = 1;

  /** Starts the peer with the harness's environment (FAKE_URL, TEMPORAL_ADDRESS, BUNDLE) and its storage directory. */
  constructor(env: Record<string, string>, storageDirectory: string) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'peers', 'durable-claude-long.ts')], {
      env: { ...process.env, ...env, STORAGE_DIR: storageDirectory },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stdin!.on('error', () => undefined);
    this.#child.stderr!.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
    const lastWords = () => this.#stderr.trim().split('\n').slice(-5).join(' | ');
    this.#ready = new Promise((resolve, reject) => {
      this.#child.once('exit', (code) => {
        const error = new Error(`durable-claude-long exited with ${code}: ${lastWords()}`);
        reject(error);
        for (const waiting of this.#waiting.values()) waiting.reject(error);
        this.#waiting.clear();
      });
      readline.createInterface({ input: this.#child.stdout! }).on('line', (line) => {
        let reply: Reply;
        try {
          reply = JSON.parse(line) as Reply;
        } catch {
          return;
        }
        if (reply.ready) return resolve();
        const waiting = reply.id === undefined ? undefined : this.#waiting.get(reply.id);
        if (!waiting) return;
        if (reply.progress !== undefined) return waiting.progress(reply.progress);
        this.#waiting.delete(reply.id!);
        if (reply.error !== undefined) waiting.reject(new Error(reply.error));
        else waiting.resolve(reply.result);
      });
    });
    this.#ready.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Sends one request. A peer that writes nothing for `idleTimeoutMs` (no progress line, no answer) is taken to
   * hang: it is killed and the request fails.
   */
  request<T>(body: Body, options: { idleTimeoutMs: number; progress?: (line: string) => void }): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.#waiting.delete(id);
          this.kill();
          reject(new Error(`durable-claude-long wrote nothing for ${Math.round(options.idleTimeoutMs / 1000)} s; killed`));
        }, options.idleTimeoutMs);
      };
      arm();
      this.#waiting.set(id, {
        resolve: (result) => (clearTimeout(timer), resolve(result as T)),
        reject: (error) => (clearTimeout(timer), reject(error)),
        progress: (line) => (arm(), options.progress?.(line)),
      });
      this.#child.stdin!.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }

  /** Closes its stdin (it shuts its worker down and exits); kills it if it has not exited in 15 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.kill(), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
