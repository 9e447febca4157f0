// One MCP server as the worker holds it: one client session, opened on first use, reopened after a failure, closed
// when idle and at shutdown. Calls share the session; a session that failed a call is dropped so the retry (a new
// activity attempt) opens a new one.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import path from 'node:path';
import { parseDurationMs } from '../workflows/duration';
import type { McpHttpServerConfig, McpServerConfig, McpStdioServerConfig } from './types';

const DEFAULT_IDLE_MS = 5 * 60_000;
const DEFAULT_CONNECT_MS = 30_000;
const STDERR_TAIL_BYTES = 4096;
const PROBE_TIMEOUT_MS = 5_000;
/** A server that does not answer the end of its session within this is left to the transport's close. */
const TERMINATE_TIMEOUT_MS = 2_000;

/**
 * A server's configuration is wrong (`kind: 'configuration'`: a name, a clash, a setting), or the server cannot be
 * started or reached (`kind: 'unreachable'`): a worker refuses to start with it.
 */
export class McpConfigurationError extends Error {
  constructor(
    message: string,
    readonly kind: 'configuration' | 'unreachable' = 'configuration',
  ) {
    super(message);
    this.name = 'McpConfigurationError';
  }
}

export function isStdioServer(config: McpServerConfig): config is McpStdioServerConfig {
  return 'command' in config;
}

/** The URL's origin only, for messages and logs. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * How a server is named in messages, which can reach history and the model: its name and its command or host only.
 * Never its arguments or the URL's path (a connection string, a token in the path), a header or an env value.
 */
export function describeServer(config: McpServerConfig): string {
  return isStdioServer(config) ? `MCP server '${config.name}' (${path.basename(config.command)})` : `MCP server '${config.name}' (${safeUrl(config.url)})`;
}

/** Headers as sent: values read from the environment now, so a rotated token is picked up by the next session. */
function resolveHeaders(config: McpHttpServerConfig): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    if (typeof value === 'string') {
      headers[name] = value;
      continue;
    }
    const fromEnv = process.env[value.env];
    if (fromEnv === undefined || fromEnv === '') {
      throw new McpConfigurationError(`${describeServer(config)}: header ${name} is read from the environment variable ${value.env}, which is not set`);
    }
    headers[name] = `${value.prefix ?? ''}${fromEnv}`;
  }
  return headers;
}

/**
 * Whether an error means the session is gone (the process died, the connection closed, the server forgot the
 * session): the next attempt must open a new one. Other errors (a timeout, a tool's own error) keep the session.
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof McpError) return err.code === ErrorCode.ConnectionClosed;
  // 404: the server no longer knows the session id (restarted); 401: credentials changed, a new session re-reads
  // them. (Not 403: a server may refuse one call and serve the others on the same session.)
  if (err instanceof StreamableHTTPError) return err.code === 404 || err.code === 401;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|ETIMEDOUT|UND_ERR_SOCKET|UND_ERR_CLOSED|ERR_STREAM_DESTROYED)$/.test(code)) return true;
  return err instanceof TypeError && /fetch failed|terminated/i.test(err.message);
}

interface Session {
  client: Client;
  transport: StdioClientTransport | StreamableHTTPClientTransport;
  closed: boolean;
}

export interface McpConnectionOptions {
  /** The server said its tool list changed, or a new session started (the server may have been redeployed). */
  onToolsChanged?: (why: 'notified' | 'reconnected') => void;
}

export class McpConnection {
  readonly config: McpServerConfig;
  readonly #options: McpConnectionOptions;
  readonly #idleMs: number;
  readonly #connectMs: number;
  #session: Promise<Session> | undefined;
  #sessions = 0;
  #inFlight = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #stderrTail = '';

  constructor(config: McpServerConfig, options: McpConnectionOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#idleMs = config.idleTimeout !== undefined ? (parseDurationMs(config.idleTimeout) ?? DEFAULT_IDLE_MS) : DEFAULT_IDLE_MS;
    this.#connectMs = config.connectTimeout !== undefined ? (parseDurationMs(config.connectTimeout) ?? DEFAULT_CONNECT_MS) : DEFAULT_CONNECT_MS;
  }

  get description(): string {
    return describeServer(this.config);
  }

  /** Runs fn with the session (opening one if there is none). A connection error drops the session it used. */
  async use<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error(`${this.description} is closed (the worker is shutting down)`);
    this.#inFlight++;
    clearTimeout(this.#idleTimer);
    const opening = this.#open();
    try {
      const session = await opening;
      try {
        return await fn(session.client);
      } catch (err) {
        if (session.closed || isConnectionError(err)) this.#drop(session);
        throw err;
      }
    } finally {
      this.#inFlight--;
      this.#armIdleTimer();
    }
  }

  /**
   * After a call timed out or was abandoned: asks the session for a ping, and drops it if none comes, so a hung
   * server is replaced without cutting off the calls a healthy one is still serving.
   */
  probe(): void {
    const current = this.#session;
    if (!current || this.#closed) return;
    void current.then(
      async (session) => {
        if (session.closed) return;
        try {
          await session.client.ping({ timeout: PROBE_TIMEOUT_MS });
        } catch {
          this.#drop(session);
        }
      },
      () => undefined,
    );
  }

  /** Ends the session and refuses new calls. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const session = this.#session;
    this.#session = undefined;
    if (session) await session.then((s) => this.#end(s), () => undefined);
  }

  #armIdleTimer(): void {
    if (this.#inFlight > 0 || this.#closed || !this.#session) return;
    this.#idleTimer = setTimeout(() => {
      const session = this.#session;
      if (this.#inFlight > 0 || !session) return;
      this.#session = undefined;
      void session.then((s) => this.#end(s), () => undefined);
    }, this.#idleMs);
    this.#idleTimer.unref();
  }

  /** Forgets a failed session (without waiting for it to close) so the next use opens a new one. */
  #drop(session: Session): void {
    void this.#session?.then((current) => {
      if (current === session) this.#session = undefined;
    }, () => undefined);
    void this.#end(session);
  }

  async #end(session: Session): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    try {
      // A Streamable HTTP session is ended on the server too, so it frees what it holds at once.
      if (session.transport instanceof StreamableHTTPClientTransport) {
        const timer = new Promise<void>((resolve) => setTimeout(resolve, TERMINATE_TIMEOUT_MS).unref());
        await Promise.race([session.transport.terminateSession().catch(() => undefined), timer]);
      }
      await session.client.close();
    } catch {
      // Closing a dead session can fail; it is gone either way.
    }
  }

  #open(): Promise<Session> {
    if (!this.#session) {
      const opening = this.#connect();
      this.#session = opening;
      // A session that could not open is forgotten at once, so the next call tries again.
      opening.catch(() => {
        if (this.#session === opening) this.#session = undefined;
      });
    }
    return this.#session;
  }

  async #connect(): Promise<Session> {
    const client = new Client(
      { name: 'durable-claude', version: '1' },
      {
        listChanged: {
          tools: {
            autoRefresh: false,
            debounceMs: 100,
            onChanged: () => this.#options.onToolsChanged?.('notified'),
          },
        },
      },
    );
    const transport = this.#transport();
    const session: Session = { client, transport, closed: false };
    transport.onclose = () => {
      // The process exited or the stream ended: calls in flight fail, and the next one opens a new session.
      if (!session.closed) this.#drop(session);
    };
    try {
      await client.connect(transport, { timeout: this.#connectMs });
    } catch (err) {
      session.closed = true;
      await client.close().catch(() => undefined);
      // Its stderr helps at worker start; on a later reconnect the message may reach history, so it stays in the log.
      const tail = this.#sessions === 0 ? this.#stderrTail.trim() : '';
      if (this.#sessions > 0 && this.#stderrTail.trim()) console.warn(`${this.description} could not be reached again; its stderr ended with:\n${this.#stderrTail.trim()}`);
      throw new McpConfigurationError(
        `${this.description} could not be reached: ${err instanceof Error ? err.message : String(err)}` + (tail ? `\nIts stderr ended with:\n${tail}` : ''),
        'unreachable',
      );
    }
    this.#sessions++;
    // After the first session, a new one may be a restarted (redeployed) server: its tools are listed again.
    if (this.#sessions > 1) this.#options.onToolsChanged?.('reconnected');
    return session;
  }

  #transport(): StdioClientTransport | StreamableHTTPClientTransport {
    const config = this.config;
    if (isStdioServer(config)) {
      const transport = new StdioClientTransport({
        command: config.command,
        ...(config.args ? { args: config.args } : {}),
        env: { ...getDefaultEnvironment(), ...config.env },
        ...(config.cwd ? { cwd: config.cwd } : {}),
        stderr: 'pipe',
      });
      this.#stderrTail = '';
      transport.stderr?.on('data', (chunk: Buffer) => {
        this.#stderrTail = (this.#stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      });
      return transport;
    }
    return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: resolveHeaders(config) } });
  }
}
