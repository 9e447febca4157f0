// One peer process of the bench: spawned with the harness's environment, spoken to in JSON lines (protocol.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { ConversationSpec, RunRequest, RunResponse } from './protocol';
import type { PeerName } from './report';

/** The longest a peer may take to answer one request (the full run's 200 concurrent conversations take ~15 s). */
const RUN_TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 180_000);

export class Peer {
  #child: ChildProcess;
  #pending = new Map<number, (response: RunResponse) => void>();
  #ready: Promise<void>;
  #nextId = 1;
  #stderr = '';
  unavailable?: string;

  constructor(
    readonly name: PeerName,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.#child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    // Writing to a peer that died must fail its run (below), not crash the harness.
    this.#child.stdin!.on('error', () => undefined);
    this.#child.stderr!.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
    const lines = readline.createInterface({ input: this.#child.stdout! });
    this.#ready = new Promise((resolve, reject) => {
      this.#child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${this.#stderr.trim().split('\n').slice(-5).join(' | ')}`)));
      lines.on('line', (line) => {
        let message: RunResponse & { ready?: boolean };
        try {
          message = JSON.parse(line) as RunResponse & { ready?: boolean };
        } catch {
          return;
        }
        if (message.ready) resolve();
        else this.#pending.get(message.id)?.(message);
      });
    });
    // Awaited later; a peer that dies before that must not crash the harness.
    this.#ready.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  run(conversations: ConversationSpec[], historyBytes = false): Promise<RunResponse> {
    const request: RunRequest = { id: this.#nextId++, conversations, historyBytes };
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.reject(new Error(`${this.name} is no longer running`));
    return new Promise((resolve, reject) => {
      // A peer that dies mid-run fails that run with its last words; one that stops answering is killed after
      // RUN_TIMEOUT_MS. Either way the harness goes on, never hangs.
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited with ${code} during a run: ${this.#stderr.trim().split('\n').slice(-5).join(' | ')}`));
      };
      const timer = setTimeout(() => {
        this.#child.off('exit', onExit);
        this.#pending.delete(request.id);
        this.#child.kill('SIGKILL');
        reject(new Error(`${this.name} gave no answer within ${RUN_TIMEOUT_MS / 1000}s; killed`));
      }, RUN_TIMEOUT_MS);
      this.#child.once('exit', onExit);
      this.#pending.set(request.id, (response) => {
        clearTimeout(timer);
        this.#child.off('exit', onExit);
        resolve(response);
      });
      this.#child.stdin!.write(`${JSON.stringify(request)}\n`);
    });
  }

  /**
   * How far this peer's clock (performance.timeOrigin + performance.now()) is from ours, in ms, from the quickest
   * of a few empty round trips: the offset at its midpoint, give or take half that round trip.
   */
  async clockOffset(samples = 5): Promise<{ offsetMs: number; uncertaintyMs: number }> {
    let best = { offsetMs: Number.NaN, uncertaintyMs: Number.POSITIVE_INFINITY };
    for (let i = 0; i < samples; i++) {
      const sent = performance.timeOrigin + performance.now();
      const { peerNow } = await this.run([]);
      const received = performance.timeOrigin + performance.now();
      if (peerNow === undefined) throw new Error(`${this.name} does not report its clock`);
      if ((received - sent) / 2 < best.uncertaintyMs) best = { offsetMs: peerNow - (sent + received) / 2, uncertaintyMs: (received - sent) / 2 };
    }
    return best;
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }

  /** Closes the peer's stdin (it shuts its worker down and exits); kills it if it has not exited in 15 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
