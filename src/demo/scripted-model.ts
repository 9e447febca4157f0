// The offline simulated model: a script for the fake Messages API that behaves like Claude on the example tools. It
// answers the latest user message, reads the real tool results from the conversation, so what it writes follows
// what the tools (and the approver) did, and it works the same in `run` (one message) and in `chat` (many).
// When the request asks for more of the tool surface it uses it: thinking blocks (signed by the fake), a web search
// on Anthropic's side, the bash tool. A request without any of that gets exactly the replies it always got.
import type { BetaContentBlockParam, BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { reply, text, toolUse } from '../testing/fake-messages-api/builders';
import { serverToolResult } from '../testing/fake-messages-api/server-tools';
import type { ContentBlockSpec, FullRequest, ResponseStep, Script, StepContext } from '../testing/fake-messages-api/types';
import { isRecord } from '../workflows/json';

export const DEMO_PROMPT = "What's the weather and the local time in Paris right now? Then email a two-line summary to team@example.com.";
export const DEMO_RECIPIENT = 'team@example.com';

interface ToolResult {
  toolUseId: string;
  toolName: string;
  content: string;
  isError: boolean;
}

/** Where the model stands in the exchange that the user's latest message opened. */
interface Exchange {
  /** The user's latest words; tool results are not the user speaking. */
  latest: string;
  /** How many replies the model has given since. */
  step: number;
  /** The results of the tools the model called since, in call order. */
  results: ToolResult[];
  offeredTools: Set<string>;
  surface: Surface;
}

/** What the request offers beyond the example tools. */
interface Surface {
  /** Thinking is on (adaptive, enabled or between_tools): every reply starts with a thinking block. */
  thinking: boolean;
  /** The name of a declared web search server tool. */
  webSearch?: string;
  /** The name of a declared bash tool (Anthropic-defined, run by the worker). */
  bash?: string;
}

function surfaceOf(request: FullRequest): Surface {
  const thinking = isRecord(request.thinking) && ['adaptive', 'enabled', 'between_tools'].includes(String(request.thinking.type));
  const named = (type: RegExp) => (request.tools ?? []).find((tool) => typeof tool.type === 'string' && type.test(tool.type))?.name;
  const webSearch = named(/^web_search_\d{8}$/);
  const bash = named(/^bash_\d{8}$/);
  return { thinking, ...(webSearch ? { webSearch } : {}), ...(bash ? { bash } : {}) };
}

function blocksOf(message: BetaMessageParam): BetaContentBlockParam[] {
  return typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : (message.content as BetaContentBlockParam[]);
}

function textOfResult(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((b: { type?: string; text?: string }) => (b.type === 'text' ? (b.text ?? '') : '')).join('');
}

function exchangeOf(context: StepContext): Exchange {
  const messages = context.request.messages;
  let opened = -1;
  let latest = '';
  for (let i = messages.length - 1; i >= 0 && opened < 0; i--) {
    if (messages[i]!.role !== 'user') continue;
    // Messages queued together arrive as one user message: the last of its texts is the latest.
    const texts = blocksOf(messages[i]!).flatMap((b) => (b.type === 'text' ? [b.text] : []));
    if (texts.length > 0) {
      opened = i;
      latest = texts[texts.length - 1]!;
    }
  }
  const since = messages.slice(opened + 1);
  const names = new Map<string, string>();
  for (const message of since) {
    if (message.role !== 'assistant') continue;
    for (const block of blocksOf(message)) if (block.type === 'tool_use') names.set(block.id, block.name);
  }
  const results = since
    .filter((m) => m.role === 'user')
    .flatMap(blocksOf)
    .flatMap((block) =>
      block.type === 'tool_result'
        ? [{ toolUseId: block.tool_use_id, toolName: names.get(block.tool_use_id) ?? '', content: textOfResult(block.content), isError: block.is_error === true }]
        : [],
    );
  return {
    latest,
    step: since.filter((m) => m.role === 'assistant').length,
    results,
    offeredTools: new Set((context.request.tools ?? []).map((tool) => tool.name)),
    surface: surfaceOf(context.request),
  };
}

function parsed(content: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(content);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function demoStep(exchange: Exchange): ResponseStep {
  switch (exchange.step) {
    case 0:
      return reply(
        text("I'll check the weather and the local time in Paris at the same time."),
        toolUse('get_weather', { location: 'Paris, France', unit: 'celsius' }),
        toolUse('get_time', { timezone: 'Europe/Paris' }),
      );
    case 1: {
      const weather = parsed(exchange.results.find((r) => r.toolName === 'get_weather')?.content ?? '');
      const time = parsed(exchange.results.find((r) => r.toolName === 'get_time')?.content ?? '');
      const summary = `Paris: ${String(weather.conditions ?? 'unknown')}, ${String(weather.temperature ?? '?')}°C.\nLocal time: ${String(time.time ?? 'unknown')}.`;
      return reply(
        text(`Here's what I found:\n${summary}\nI'll email this to ${DEMO_RECIPIENT}; sending email needs your approval.`),
        toolUse('send_email', { to: DEMO_RECIPIENT, subject: 'Paris right now', body: summary }),
      );
    }
    default: {
      const outcome = exchange.results.find((r) => r.toolName === 'send_email');
      if (!outcome) return reply(text('Done.'));
      if (outcome.isError) return reply(text(`I did not send the email: ${outcome.content}`));
      return reply(text(`Done: the summary went to ${DEMO_RECIPIENT} (${String(parsed(outcome.content).status ?? 'sent')}).`));
    }
  }
}

/** Time zones of cities people ask about; anything else is answered in UTC. */
const TIME_ZONES: Record<string, string> = {
  amsterdam: 'Europe/Amsterdam',
  berlin: 'Europe/Berlin',
  boston: 'America/New_York',
  chicago: 'America/Chicago',
  delhi: 'Asia/Kolkata',
  'hong kong': 'Asia/Hong_Kong',
  london: 'Europe/London',
  'los angeles': 'America/Los_Angeles',
  madrid: 'Europe/Madrid',
  mumbai: 'Asia/Kolkata',
  'new york': 'America/New_York',
  paris: 'Europe/Paris',
  rome: 'Europe/Rome',
  'san francisco': 'America/Los_Angeles',
  'são paulo': 'America/Sao_Paulo',
  seattle: 'America/Los_Angeles',
  singapore: 'Asia/Singapore',
  sydney: 'Australia/Sydney',
  tokyo: 'Asia/Tokyo',
  toronto: 'America/Toronto',
};

/** The place in "… in Tokyo?", "… for San Francisco, CA right now": up to punctuation or a word that ends it. */
function placeIn(message: string): string | undefined {
  const found = /\b(?:in|for|at)\s+([\p{L}][\p{L}'.-]*(?:[ ,]+[\p{L}][\p{L}'.-]*)*)/iu.exec(message)?.[1];
  if (!found) return undefined;
  const words: string[] = [];
  for (const word of found.split(/\s+/)) {
    if (/^(right|now|today|tonight|and|then|please|currently|at|the|is|it)$/i.test(word.replace(/,$/, ''))) break;
    words.push(word);
    if (word.endsWith(',') && words.length > 1) break;
  }
  const place = words.join(' ').replace(/[,.]+$/, '');
  return place && !/^(the|a|an)$/i.test(place) ? place : undefined;
}

function timeZoneOf(message: string, place: string | undefined): string {
  const named = /\b([A-Z][a-z]+\/[A-Z][A-Za-z_]+)\b/.exec(message)?.[1];
  if (named) return named;
  const city = place?.split(',')[0]!.trim().toLowerCase();
  return (city && TIME_ZONES[city]) || 'UTC';
}

/** The example tools the latest message asks for, among those the conversation offers. */
function toolCallsFor(exchange: Exchange) {
  const message = exchange.latest;
  const offered = (name: string) => exchange.offeredTools.has(name);
  const place = placeIn(message);
  const calls = [];
  if (offered('get_weather') && /\b(weather|temperature|forecast|rain(ing)?|sunny|cold|warm|hot)\b/i.test(message)) {
    calls.push(toolUse('get_weather', { location: place ?? 'Paris, France', unit: /fahrenheit|°F/i.test(message) ? 'fahrenheit' : 'celsius' }));
  }
  if (offered('get_time') && /\b(time|clock|o'clock)\b/i.test(message)) {
    calls.push(toolUse('get_time', { timezone: timeZoneOf(message, place) }));
  }
  const address = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/.exec(message)?.[0];
  if (offered('send_email') && address && /\b(e-?mail|send|write)\b/i.test(message)) {
    calls.push(toolUse('send_email', { to: address, subject: 'A note from durable-claude', body: message }));
  }
  return calls;
}

function resultLine(result: ToolResult): string {
  if (result.isError) return `${result.toolName || 'a tool'} failed: ${result.content}`;
  const value = parsed(result.content);
  switch (result.toolName) {
    case 'get_weather':
      return `${String(value.location ?? 'There')}: ${String(value.conditions ?? 'unknown')}, ${String(value.temperature ?? '?')}°${value.unit === 'fahrenheit' ? 'F' : 'C'}.`;
    case 'get_time':
      return `Local time in ${String(value.timezone ?? 'that time zone')}: ${String(value.time ?? 'unknown')}.`;
    case 'send_email':
      return `The email to ${String(value.to ?? 'the recipient')} was ${String(value.status ?? 'sent')}.`;
    case 'bash':
      return `The command's output: ${result.content.trim().slice(0, 400) || '(nothing)'}`;
    default:
      return `${result.toolName} answered: ${result.content.slice(0, 200)}`;
  }
}

/**
 * What to search the web for, when the message asks for a search ("search the web for X", "look up X"), and the
 * rest of the message without that request ("…, and what's the weather in Tokyo?"), which may ask for more.
 */
function searchIn(message: string): { query: string; rest: string } | undefined {
  const asked = /\b(?:search(?:\s+(?:the\s+)?(?:web|internet|online))?(?:\s+for)?|look\s+up|google|find\s+online)\s+(.+)/is.exec(message);
  if (!asked) return /\b(search|look (?:it|that|this) up)\b/i.test(message) ? { query: message.trim().slice(0, 120), rest: '' } : undefined;
  // The query ends at the sentence's end or where a second request begins.
  const asks = asked[1]!.replace(/^(?:about|on)\s+/i, '');
  const [query = ''] = asks.split(/[?!;]|\.(?:\s|$)|,\s*|\s+(?=and\s+(?:then|also|what|how|when|where|who|tell|email|send|run)\b)/i);
  const trimmed = query.trim();
  return trimmed ? { query: trimmed.slice(0, 120), rest: `${message.slice(0, asked.index)}${asks.slice(query.length)}` } : undefined;
}

/** The shell command the message asks to run: in backticks, or after "run"/"execute" ("run the command: ls -la"). */
function commandIn(message: string): string | undefined {
  const quoted = /`([^`]+)`/.exec(message)?.[1]?.trim();
  if (quoted && /\b(run|execute|shell|command|bash)\b/i.test(message)) return quoted;
  const asked = /\b(?:run|execute)\s+(?:(?:the|this)\s+)?(?:(?:shell|bash)\s+)?(?:command\s*)?:?\s*(.+)$/is.exec(message)?.[1];
  // Quotes around it, and a closing "please" or question mark, are not part of the command.
  const command = asked
    ?.trim()
    .replace(/[\s,]*please[.!]?$/i, '')
    .replace(/[?!]+$/, '')
    .replace(/^["'“](.*)["'”]$/s, '$1')
    .trim();
  return command || undefined;
}

/** A web search on Anthropic's side, and the answer citing its results (the fake writes the same results after the call). */
function webSearchBlocks(name: string, query: string): ContentBlockSpec[] {
  const found = serverToolResult({ id: 'srvtoolu_preview', name: 'web_search', input: { query } }, [], 0) as unknown as { content?: unknown };
  const results = Array.isArray(found.content) ? found.content.filter(isRecord) : [];
  const cited = results.map((r, i) => `[${i + 1}] ${String(r.title)} — ${String(r.url)}`).join('; ');
  return [
    { type: 'server_tool_use', name, input: { query } },
    text(`(simulated model) I searched the web for "${query}" (the search ran on Anthropic's side). ${results.length ? `What I found: ${cited}.` : 'It found nothing.'}`),
  ];
}

/** The first reply to a message that asks for a web search or a shell command, when the request offers them. */
function surfaceStep(exchange: Exchange): ResponseStep | undefined {
  const { webSearch, bash } = exchange.surface;
  const searched = webSearch ? searchIn(exchange.latest) : undefined;
  const command = bash ? commandIn(exchange.latest) : undefined;
  if (searched === undefined && command === undefined) return undefined;
  const search = searched !== undefined ? webSearchBlocks(webSearch!, searched.query) : [];
  // The example tools answer what the message asks besides the search (its words are not a place to look up).
  const calls = toolCallsFor(searched ? { ...exchange, latest: searched.rest } : exchange);
  const shell = command !== undefined ? [toolUse(bash!, { command })] : [];
  const all = [...calls, ...shell];
  const intro = calls.length > 0 ? `(simulated model) Let me look that up with ${all.length === 1 ? 'a tool' : `${all.length} tools at once`}.` : `(simulated model) I'll run \`${command ?? ''}\` in the shell.`;
  return reply(...search, ...(all.length > 0 ? [text(intro), ...all] : []));
}

function simulatedStep(exchange: Exchange): ResponseStep {
  if (exchange.step === 0) {
    const withSurface = surfaceStep(exchange);
    if (withSurface) return withSurface;
    const calls = toolCallsFor(exchange);
    if (calls.length > 0) return reply(text(`(simulated model) Let me look that up with ${calls.length === 1 ? 'a tool' : `${calls.length} tools at once`}.`), ...calls);
    const examples = [
      exchange.offeredTools.has('get_weather') ? '"What\'s the weather in Tokyo?"' : undefined,
      exchange.offeredTools.has('get_time') ? '"What time is it in London?"' : undefined,
    ].filter(Boolean);
    return reply(
      text(
        `(simulated model) You said: "${exchange.latest.slice(0, 200)}". I am an offline stand-in: set ANTHROPIC_API_KEY to talk to Claude.` +
          (examples.length ? ` Ask me something like ${examples.join(' or ')} to see a tool call.` : ''),
      ),
    );
  }
  if (exchange.results.length === 0) return reply(text('(simulated model) Done.'));
  return reply(text(`(simulated model) ${exchange.results.map(resultLine).join(' ')}`));
}

/** A short note of what the model is about to do, from the reply it is about to give (no signature: the fake signs it). */
function thinkingBefore(exchange: Exchange, step: ResponseStep): ContentBlockSpec {
  const calls = step.content.flatMap((block) => ((block.type === 'tool_use' || block.type === 'server_tool_use') && typeof block.name === 'string' ? [block.name] : []));
  const had = [...new Set(exchange.results.map((r) => r.toolName || 'a tool'))];
  const where = exchange.step === 0 ? `The user says: "${exchange.latest.slice(0, 80)}${exchange.latest.length > 80 ? '…' : ''}".` : `I have what ${had.length ? had.join(' and ') : 'I asked for'} returned.`;
  const next = calls.length > 0 ? ` Next: ${calls.join(', ')}.` : ' I can answer now.';
  return { type: 'thinking', thinking: `${where}${next}` };
}

/** Answers any conversation: the demo task as scripted above, anything else from its latest message. */
export function simulatedModelScript(): Script {
  return {
    match: () => true,
    steps: (context) => {
      const exchange = exchangeOf(context);
      const step = exchange.latest.startsWith(DEMO_PROMPT.slice(0, 40)) ? demoStep(exchange) : simulatedStep(exchange);
      return exchange.surface.thinking ? { ...step, content: [thinkingBefore(exchange, step), ...step.content] } : step;
    },
  };
}
