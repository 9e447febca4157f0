// Built-in example tools for the demo and the runnable worker. They work offline: weather is derived from the
// city name, and send_email writes to an outbox instead of the network.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineTool, type AgentTool } from '../tools/define-tool';

const CONDITIONS = ['sunny', 'partly cloudy', 'overcast', 'light rain', 'windy', 'foggy'];

function seeded(text: string): number {
  return createHash('sha256').update(text.toLowerCase()).digest().readUInt32BE(0);
}

export interface SentEmail {
  to: string;
  subject: string;
  body: string;
  idempotencyKey: string;
  sentAt: string;
}

export interface ExampleToolsOptions {
  /** Where send_email delivers; duplicates of one call (same idempotency key) are dropped. */
  outbox?: Map<string, SentEmail>;
}

export function exampleTools(options: ExampleToolsOptions = {}): AgentTool[] {
  const outbox = options.outbox ?? new Map<string, SentEmail>();
  return [
    defineTool({
      name: 'get_weather',
      // Detailed descriptions, as the tool-use guide advises (what the tool does, when to use it and when not, what
      // it returns): they steer the model, and with the schemas they make a prefix long enough to be cached.
      description:
        'Get the current weather in a city: temperature, unit and a one-word description of the conditions (sunny, windy, ' +
        'rain…). Use it for questions about the weather right now or today in a named place; it has no forecasts and no ' +
        'history, so say so rather than guess when asked about another day. The location must be a city, with its region ' +
        'or country when the name is ambiguous (Paris, France rather than Paris). The temperature is in celsius unless ' +
        'the user asks for fahrenheit or is clearly in the United States.',
      input: z.object({
        location: z.string().min(1).describe('City and region, e.g. "San Francisco, CA"'),
        unit: z.enum(['celsius', 'fahrenheit']).optional().describe('Temperature unit; default celsius'),
      }),
      run: ({ location, unit }) => {
        const n = seeded(location);
        const celsius = (n % 30) + 2;
        const temperature = unit === 'fahrenheit' ? Math.round((celsius * 9) / 5 + 32) : celsius;
        return { location, temperature, unit: unit ?? 'celsius', conditions: CONDITIONS[n % CONDITIONS.length] };
      },
    }),
    defineTool({
      name: 'get_time',
      description:
        'Get the current local date and time in a time zone, formatted for people (e.g. "Dec 1, 2026, 8:27 PM"). Use it ' +
        'whenever the user asks what time or day it is somewhere, or when an answer depends on local time (opening ' +
        'hours, whether it is night). Give an IANA time zone name such as Europe/Paris or America/Los_Angeles, never an ' +
        'abbreviation like CET or PST; an unknown zone is an error that names it.',
      input: z.object({ timezone: z.string().min(1).describe('IANA time zone, e.g. "America/Los_Angeles"') }),
      run: ({ timezone }) => {
        try {
          const time = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeStyle: 'short', dateStyle: 'medium' }).format(new Date());
          return { timezone, time };
        } catch {
          throw new Error(`unknown time zone ${timezone}`);
        }
      },
    }),
    defineTool({
      name: 'send_email',
      description:
        'Send an email to one recipient. It has side effects that cannot be undone, so a person approves every call ' +
        'before it runs, and may edit it or reject it with a reason, which you will see as the result. Use it only when ' +
        'the user asked for an email to be sent, with the address they gave; never invent an address. Keep the subject ' +
        'short and the body plain text. The result says whether it was sent or, for a repeated call, already sent.',
      input: z.object({
        to: z.email().describe('Recipient address'),
        subject: z.string().min(1).max(200),
        body: z.string().min(1),
      }),
      needsApproval: true,
      approvalTimeout: '24h',
      // Fine-grained tool streaming: a long email body shows up while Claude is still writing it.
      streamInput: true,
      run: ({ to, subject, body }, { idempotencyKey }) => {
        const existing = outbox.get(idempotencyKey);
        if (existing) return { status: 'already sent', to: existing.to, sentAt: existing.sentAt };
        const sent: SentEmail = { to, subject, body, idempotencyKey, sentAt: new Date().toISOString() };
        outbox.set(idempotencyKey, sent);
        return { status: 'sent', to, sentAt: sent.sentAt };
      },
    }),
  ];
}
