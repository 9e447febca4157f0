// Server-Sent Events for browsers: a conversation's live output over plain HTTP, resumable with Last-Event-ID.
// One `(req, res)` function, so any Node server can mount it: node:http, Express, Fastify (`reply.hijack()`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentClient } from '../client/agent-client';
import { ConversationNotFoundError } from '../client/errors';
import { LiveOutputUnavailableError } from '../client/live';
import type { ConversationEvent } from './events';

export interface EventStreamHandlerOptions {
  agent: AgentClient;
  /**
   * Which conversation a request asks for. Default: Express's `req.params.conversationId` or `req.params.id`, else
   * `?conversation=<id>`, else the path segment before a trailing `/events` (`/conversations/<id>/events`).
   */
  conversationIdOf?: (req: IncomingMessage) => string | undefined;
  /** A comment line (`: keepalive`) this often, so proxies and load balancers keep an idle stream open. Default 15 s. */
  heartbeatMs?: number;
  /** The stream's `retry:` field: how long a browser waits before it reconnects. Default 2 s. */
  retryMs?: number;
}

/**
 * Serves one request. The promise settles (never rejects) once the response is over: the conversation ended, the
 * client went away, or an error was answered. Servers may ignore it.
 */
export type EventStreamHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_RETRY_MS = 2_000;

interface HttpProblem {
  status: 400 | 404 | 500 | 503;
  error: 'no_conversation_id' | 'bad_offset' | 'conversation_not_found' | 'live_output_unavailable' | 'internal_error';
  message: string;
  conversationId?: string;
}

/**
 * An HTTP handler that streams a conversation's events (`ConversationHandle.stream()`) as Server-Sent Events: each
 * event as `id: <offset>`, `event: <type>`, `data: <the event as JSON>`, and a final `event: end` when the
 * conversation finishes (a browser should then `close()` its EventSource, or it reconnects and gets `end` again).
 * A reconnecting EventSource resumes by itself: its `Last-Event-ID` header (which wins over `?from=`) restarts the
 * stream after that offset; `?from=<offset>` starts at an offset. Before the first byte, errors are JSON answers:
 * 400 (no id, bad offset), 404 (unknown conversation), 503 (the client has no event store), 500 (anything else).
 *
 * ```ts
 * const events = createEventStreamHandler({ agent });
 * http.createServer((req, res) => void events(req, res));            // GET /conversations/<id>/events
 * app.get('/conversations/:id/events', events);                       // Express
 * fastify.get('/conversations/:id/events', (request, reply) => {      // Fastify
 *   reply.hijack();
 *   void events(request.raw, reply.raw);
 * });
 * ```
 */
export function createEventStreamHandler(options: EventStreamHandlerOptions): EventStreamHandler {
  const { agent } = options;
  const conversationIdOf = options.conversationIdOf ?? defaultConversationIdOf;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs <= 0) throw new RangeError(`heartbeatMs must be a positive whole number of milliseconds, got ${heartbeatMs}`);
  if (!Number.isSafeInteger(retryMs) || retryMs < 0) throw new RangeError(`retryMs must be a non-negative whole number of milliseconds, got ${retryMs}`);

  return async (req, res) => {
    try {
      const request = readRequest(req, conversationIdOf);
      if ('status' in request) {
        sendProblem(res, request);
        return;
      }
      await serveEvents(agent, request, res, { heartbeatMs, retryMs });
    } catch (err) {
      // Only reached for a failure outside the stream loop (which handles its own): answer it if nothing was sent.
      if (!res.headersSent) sendProblem(res, { status: 500, error: 'internal_error', message: messageOf(err) });
      else res.destroy();
    }
  };
}

/** The default of `conversationIdOf`: Express's route parameters, `?conversation=`, or `/<id>/events`. */
export function defaultConversationIdOf(req: IncomingMessage): string | undefined {
  const params: unknown = (req as IncomingMessage & { params?: unknown }).params;
  if (typeof params === 'object' && params !== null) {
    for (const key of ['conversationId', 'id']) {
      const value: unknown = (params as Record<string, unknown>)[key];
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  const url = requestUrl(req);
  const fromQuery = url.searchParams.get('conversation');
  if (fromQuery) return fromQuery;
  const segment = /\/([^/]+)\/events\/?$/.exec(url.pathname)?.[1];
  return segment === undefined ? undefined : decodeURIComponent(segment);
}

function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://localhost');
}

interface EventStreamRequest {
  conversationId: string;
  fromOffset: number;
}

function readRequest(req: IncomingMessage, conversationIdOf: (req: IncomingMessage) => string | undefined): EventStreamRequest | HttpProblem {
  let conversationId: string | undefined;
  try {
    conversationId = conversationIdOf(req);
  } catch (err) {
    if (!(err instanceof URIError)) throw err;
    return { status: 400, error: 'no_conversation_id', message: `The conversation id in the path is not valid percent-encoding: ${req.url ?? ''}` };
  }
  if (!conversationId) {
    return { status: 400, error: 'no_conversation_id', message: 'No conversation id in the request: ask for /conversations/<id>/events or ?conversation=<id>' };
  }
  const fromOffset = resumeOffset(req);
  if (typeof fromOffset !== 'number') return { ...fromOffset, conversationId };
  return { conversationId, fromOffset };
}

/** Where the stream starts: after Last-Event-ID (a reconnecting EventSource sends it), else at `?from=`, else 0. */
function resumeOffset(req: IncomingMessage): number | HttpProblem {
  const lastEventId = req.headers['last-event-id'];
  // An EventSource sends no header until it saw an id; an empty one means the same.
  if (lastEventId !== undefined && lastEventId !== '') {
    const last = typeof lastEventId === 'string' ? wholeNumber(lastEventId.trim()) : undefined;
    if (last === undefined || !Number.isSafeInteger(last + 1)) {
      return {
        status: 400,
        error: 'bad_offset',
        message: `Last-Event-ID must be the id of an event this stream sent (a non-negative whole number), got ${JSON.stringify(lastEventId)}`,
      };
    }
    return last + 1;
  }
  const from = requestUrl(req).searchParams.get('from');
  if (from === null) return 0;
  const offset = wholeNumber(from.trim());
  if (offset === undefined) return { status: 400, error: 'bad_offset', message: `from must be a non-negative whole number (an event offset), got ${JSON.stringify(from)}` };
  return offset;
}

function wholeNumber(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

function sendProblem(res: ServerResponse, problem: HttpProblem): void {
  const { status, ...body } = problem;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function problemOf(err: unknown, conversationId: string): HttpProblem {
  if (err instanceof ConversationNotFoundError) return { status: 404, error: 'conversation_not_found', message: err.message, conversationId };
  if (err instanceof LiveOutputUnavailableError) return { status: 503, error: 'live_output_unavailable', message: err.message, conversationId };
  if (err instanceof RangeError) return { status: 400, error: 'bad_offset', message: err.message, conversationId };
  return { status: 500, error: 'internal_error', message: messageOf(err), conversationId };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function frameOf(event: ConversationEvent): string {
  // JSON.stringify escapes CR and LF inside strings, so the data stays on one line as SSE requires.
  return `id: ${event.offset}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Resolves once `res` can take more, or the client is gone. */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function serveEvents(
  agent: AgentClient,
  request: EventStreamRequest,
  res: ServerResponse,
  settings: { heartbeatMs: number; retryMs: number },
): Promise<void> {
  const { conversationId, fromOffset } = request;
  const handle = agent.getHandle(conversationId);
  // A response that closes before it finished is a client that went away: stop reading the store.
  const clientGone = new AbortController();
  const onClose = () => clientGone.abort();
  res.once('close', onClose);
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    let events: AsyncGenerator<ConversationEvent, void, undefined>;
    try {
      events = handle.stream({ fromOffset, signal: clientGone.signal });
      // stream() looks the conversation up only once iterated, which may be long after the headers: look first.
      await handle.describe();
    } catch (err) {
      if (!clientGone.signal.aborted) sendProblem(res, problemOf(err, conversationId));
      return;
    }
    if (clientGone.signal.aborted) return;

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    // Express's compression middleware buffers unless told to flush.
    const flush = () => (res as ServerResponse & { flush?: () => void }).flush?.();
    const send = async (chunk: string) => {
      const accepted = res.write(chunk);
      flush();
      // Backpressure: a client that does not read holds the next event in the store, not in this process.
      if (!accepted) await drained(res, clientGone.signal);
    };
    await send(`retry: ${settings.retryMs}\n\n`);
    heartbeat = setInterval(() => {
      // A keepalive is for an idle link; one that is still draining is busy enough.
      if (!res.writableNeedDrain && !clientGone.signal.aborted) {
        res.write(': keepalive\n\n');
        flush();
      }
    }, settings.heartbeatMs);
    try {
      for await (const event of events) {
        await send(frameOf(event));
        if (clientGone.signal.aborted) break;
      }
    } catch (err) {
      // Headers are out: say why in a comment and end; a browser reconnects and resumes from its Last-Event-ID.
      if (!clientGone.signal.aborted) res.end(`: the event stream failed: ${messageOf(err).replace(/[\r\n]+/g, ' ')}\n\n`);
      return;
    }
    if (!clientGone.signal.aborted) res.end(`event: end\ndata: ${JSON.stringify({ conversationId })}\n\n`);
  } finally {
    clearInterval(heartbeat);
    res.off('close', onClose);
  }
}
