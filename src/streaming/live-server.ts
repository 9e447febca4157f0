// A small HTTP server for live output, as `durable-claude dev` runs it: each conversation's events as Server-Sent
// Events, and a page that shows them. A production app mounts createEventStreamHandler in its own server instead.
import http from 'node:http';
import type { AgentClient } from '../client/agent-client';
import { createEventStreamHandler } from './sse';

export interface LiveOutputServerOptions {
  agent: AgentClient;
  port?: number;
  host?: string;
}

export interface LiveOutputServer {
  /** http://host:port; a conversation's events are at /conversations/<id>/events, its page at /conversations/<id>. */
  url: string;
  close(): Promise<void>;
}

/** The page: Claude's text and the tool calls as they stream; an attempt's text is dropped when it is reset. */
function viewerPage(conversationId: string): string {
  const id = JSON.stringify(conversationId).replace(/</g, '\\u003c');
  return `<!doctype html>
<meta charset="utf-8">
<title>durable-claude · ${conversationId.replace(/[<>&"]/g, '')}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}pre{white-space:pre-wrap;margin:.25rem 0}.tool{color:#555}.state{color:#888}</style>
<h1>Conversation <code id="id"></code></h1>
<p class="state" id="state">connecting…</p>
<div id="log"></div>
<script>
const conversationId = ${id};
document.getElementById('id').textContent = conversationId;
const log = document.getElementById('log');
const state = document.getElementById('state');
// A turn shows the text of its latest model-call attempt: a retried attempt or a call repeated with a higher
// max_tokens replaces what came before it, and late pieces of an older attempt are ignored.
function line(text, cls) { const el = document.createElement('pre'); el.textContent = text; if (cls) el.className = cls; log.append(el); return el; }
const turns = new Map();
function turnView(turn) {
  let view = turns.get(turn);
  if (!view) { view = { attempt: '', el: line('', 'text'), tools: [] }; turns.set(turn, view); }
  return view;
}
function restart(view, attempt) { view.attempt = attempt; view.el.textContent = ''; view.tools.forEach((el) => el.remove()); view.tools = []; }
const toolLines = new Map();
const source = new EventSource('/conversations/' + encodeURIComponent(conversationId) + '/events');
source.onopen = () => { state.textContent = 'live'; };
source.onerror = () => { state.textContent = 'reconnecting…'; };
const on = (type, fn) => source.addEventListener(type, (m) => fn(JSON.parse(m.data)));
const current = (e) => turnView(e.turn).attempt === e.call + '#' + e.attempt;
on('model_call_started', (e) => restart(turnView(e.turn), e.call + '#' + e.attempt));
// A reset voids what the attempt streamed so far; what it streams after (a thread replay) starts over.
on('model_call_reset', (e) => { if (current(e)) restart(turnView(e.turn), e.call + '#' + e.attempt); line('↺ ' + e.reason, 'state'); });
on('text_delta', (e) => { if (current(e)) turnView(e.turn).el.textContent += e.text; });
on('tool_use_started', (e) => { if (!current(e)) return; const el = line('→ ' + e.name + ' ', 'tool'); turnView(e.turn).tools.push(el); toolLines.set(e.toolUseId, el); });
on('tool_input_delta', (e) => { const el = toolLines.get(e.toolUseId); if (el && current(e)) el.textContent += e.partialJson; });
on('approval_requested', (e) => line('⏸ ' + e.name + ' waits for approval (' + e.toolUseId + ')', 'tool'));
on('approval_decided', (e) => line(e.decision + ' ' + e.name + ' by ' + (e.by || ''), 'tool'));
on('tool_progress', (e) => line('… ' + e.name + ': ' + e.progress + (e.total !== undefined ? '/' + e.total : '') + (e.message ? ' ' + e.message : ''), 'tool'));
on('tool_finished', (e) => line((e.isError ? '✗ ' : '← ') + e.name + ': ' + e.preview, 'tool'));
on('chat_message_received', (e) => line('user › ' + e.text));
on('conversation_finished', (e) => { state.textContent = 'finished: ' + e.status; });
source.addEventListener('end', () => source.close());
</script>
`;
}

export async function startLiveOutputServer(options: LiveOutputServerOptions): Promise<LiveOutputServer> {
  const events = createEventStreamHandler({ agent: options.agent });
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const page = /^\/conversations\/([^/]+)\/?$/.exec(path);
    if (req.method === 'GET' && /^\/conversations\/[^/]+\/events$/.test(path)) {
      void events(req, res);
    } else if (req.method === 'GET' && page) {
      let conversationId: string;
      try {
        conversationId = decodeURIComponent(page[1]!);
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('The conversation id in the path is not valid percent-encoding\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(viewerPage(conversationId));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('GET /conversations/<id> (a page) or /conversations/<id>/events (Server-Sent Events)\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
