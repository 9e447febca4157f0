// Connections for the CLI: Temporal from flags or the standard environment, Anthropic from ANTHROPIC_* or the
// offline simulated model.
import Anthropic from '@anthropic-ai/sdk';
import { Connection } from '@temporalio/client';
import type { ExternalStorage, PayloadCodec } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { AgentClient } from '../client';
import { loadTemporalConfig, type TemporalConfig } from '../config';
import { simulatedModelScript } from '../demo/scripted-model';
import { connectEventStore, redactCredentials, type NatsEventStore } from '../streaming/nats-event-store';
import { devStorageDirIfPresent, storageFromEnv, type ConfiguredStorage } from '../storage/config';
import { FakeMessagesApi } from '../testing/fake-messages-api/server';
import { DEFAULT_TASK_QUEUE } from '../workflows/types';
import { cliPayloadCodec, missingKeysError } from './encryption-options';
import { CliError, ExitCode } from './errors';

/** Parsed flags: a string, a boolean, or the strings of a repeatable flag (`multiple`). */
export type { CliValues } from './values';
import type { CliValues } from './values';

export function temporalSettings(values: CliValues): TemporalConfig {
  const config = loadTemporalConfig();
  const address = typeof values.address === 'string' ? values.address : config.connectionOptions.address;
  const namespace = typeof values.namespace === 'string' ? values.namespace : config.namespace;
  return { connectionOptions: { ...config.connectionOptions, address }, namespace };
}

export function taskQueueOf(values: CliValues): string {
  return typeof values['task-queue'] === 'string' ? values['task-queue'] : (process.env.DURABLE_CLAUDE_TASK_QUEUE ?? DEFAULT_TASK_QUEUE);
}

function unreachable(address: string, err: unknown): CliError {
  const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new CliError(
    `cannot reach Temporal at ${address} (${reason}). Start one with \`durable-claude dev\`, or point TEMPORAL_ADDRESS / --address at your cluster.`,
    ExitCode.unreachable,
  );
}

/** Where live output is read from: --events, else DURABLE_CLAUDE_EVENTS (a nats:// URL); unset or `off`: none. */
export function eventsUrlOf(values: CliValues): string | undefined {
  const url = typeof values.events === 'string' ? values.events : process.env.DURABLE_CLAUDE_EVENTS;
  if (url === undefined || url === '' || url === 'off') return undefined;
  if (!/^(nats|tls|wss?):\/\/[^\s]+$/.test(url)) {
    throw CliError.usage(`the event store must be a nats:// URL (--events or DURABLE_CLAUDE_EVENTS), got ${JSON.stringify(redactCredentials(url))}`);
  }
  return url;
}

/** The event store for live output, when one is configured. Unreachable: exit 4, like Temporal. */
export async function connectEvents(values: CliValues, namespace: string): Promise<NatsEventStore | undefined> {
  const url = eventsUrlOf(values);
  if (!url) return undefined;
  try {
    return await connectEventStore({ servers: url, namespace, connectTimeoutMs: 5_000, name: 'durable-claude-cli' });
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CliError(`cannot reach the event store at ${redactCredentials(url)} (${reason}). Start it with \`durable-claude dev\`, or unset DURABLE_CLAUDE_EVENTS to follow turn by turn.`, ExitCode.unreachable);
  }
}

/**
 * The workers' store of large payloads, for reading what history references: --storage-dir DIR (`off`: none), else
 * the environment (DURABLE_CLAUDE_STORAGE_DIR, DURABLE_CLAUDE_S3_BUCKET …, read as the worker reads it), else
 * `fallbackDirectory` (`durable-claude dev` passes its own), else the dev store in this directory when it exists.
 */
export function storageOf(values: CliValues, fallbackDirectory?: string): ConfiguredStorage | undefined {
  const flag = typeof values['storage-dir'] === 'string' ? values['storage-dir'] : undefined;
  if (flag === '') throw CliError.usage('--storage-dir needs a directory (or `off`)');
  try {
    if (flag === 'off') return undefined;
    const defaultDirectory = fallbackDirectory ?? devStorageDirIfPresent();
    return storageFromEnv(flag !== undefined ? { directory: flag } : {}, defaultDirectory !== undefined ? { defaultDirectory } : {});
  } catch (err) {
    throw CliError.usage((err as Error).message);
  }
}

/**
 * The data converter for replaying histories: the external storage their large payloads are in, and the payload
 * codec (DURABLE_CLAUDE_ENCRYPTION_KEYS …) their payloads were encrypted with.
 */
export function replayConverterOf(values: CliValues): { dataConverter?: { externalStorage?: ExternalStorage; payloadCodecs?: PayloadCodec[] } } {
  const stored = storageOf(values);
  const codec = cliPayloadCodec(values);
  if (!stored && !codec) return {};
  return { dataConverter: { ...(stored ? { externalStorage: stored.storage } : {}), ...(codec ? { payloadCodecs: [codec] } : {}) } };
}

export async function connectAgent(values: CliValues, options: { storageDirectory?: string } = {}): Promise<{ agent: AgentClient; close(): Promise<void> }> {
  const { connectionOptions, namespace } = temporalSettings(values);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...(connectionOptions as Parameters<typeof Connection.connect>[0]), connectTimeout: '5s' });
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw unreachable(connectionOptions.address, err);
  }
  let events: NatsEventStore | undefined;
  let stored: ConfiguredStorage | undefined;
  let payloadCodec: PayloadCodec | undefined;
  try {
    stored = storageOf(values, options.storageDirectory);
    // The workers' encryption keys, so encrypted conversations read (show, export, replay…) and what is sent is encrypted.
    payloadCodec = cliPayloadCodec(values);
    events = await connectEvents(values, namespace);
  } catch (err) {
    await connection.close();
    throw err;
  }
  return {
    agent: new AgentClient({ connection, namespace, taskQueue: taskQueueOf(values), ...(events ? { events } : {}), ...(stored ? { externalStorage: stored.storage } : {}), ...(payloadCodec ? { payloadCodec } : {}) }),
    async close() {
      await events?.close();
      await connection.close();
    },
  };
}

/** Runs `fn` with a connected client and closes the connection after. */
export async function withAgent<T>(values: CliValues, fn: (agent: AgentClient) => Promise<T>): Promise<T> {
  const { agent, close } = await connectAgent(values);
  try {
    return await fn(agent);
  } catch (err) {
    throw missingKeysError(err) ?? err;
  } finally {
    await close();
  }
}

export async function connectWorkerConnection(values: CliValues): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = temporalSettings(values);
  try {
    return { connection: await NativeConnection.connect(connectionOptions), namespace };
  } catch (err) {
    throw unreachable(connectionOptions.address, err);
  }
}

export interface ModelConnection {
  anthropic: Anthropic;
  simulated: boolean;
  close(): Promise<void>;
}

/** Claude when ANTHROPIC_API_KEY is set; else, when allowed, the offline simulated model on a local fake API. */
export async function connectModel(options: { allowSimulated: boolean }): Promise<ModelConnection> {
  if (process.env.ANTHROPIC_API_KEY || process.env.ANTHROPIC_AUTH_TOKEN) {
    return { anthropic: new Anthropic(), simulated: false, close: async () => undefined };
  }
  if (!options.allowSimulated) {
    throw new CliError('ANTHROPIC_API_KEY is not set: the worker needs it to call Claude (ANTHROPIC_BASE_URL points at another endpoint).', ExitCode.missingApiKey);
  }
  // Text at about 300 characters a second in small pieces, so live output looks as it does with Claude.
  const fake = await FakeMessagesApi.start({ defaultScript: simulatedModelScript(), latency: { firstTokenMs: 250, chunkMs: 15 }, textChunkChars: 5 });
  return {
    anthropic: new Anthropic({ apiKey: 'simulated-offline-model', baseURL: fake.baseURL }),
    simulated: true,
    close: () => fake.close(),
  };
}
