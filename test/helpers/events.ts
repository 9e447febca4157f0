// The test run's event store: the nats-server global-setup started, one namespace per caller if it wants isolation.
import { randomUUID } from 'node:crypto';
import { connectEventStore, type ConnectEventStoreOptions, type NatsEventStore } from '../../src/streaming/nats-event-store';

export function testEventsUrl(): string {
  const url = process.env.DURABLE_CLAUDE_TEST_EVENTS_URL;
  if (!url) throw new Error('DURABLE_CLAUDE_TEST_EVENTS_URL is not set: run the tests through jest (global-setup starts nats-server)');
  return url;
}

/** A NatsEventStore on the test run's server. Namespace default 'default', as the test Temporal client uses. */
export function connectTestEventStore(namespace = 'default', options: Omit<ConnectEventStoreOptions, 'servers' | 'namespace'> = {}): Promise<NatsEventStore> {
  return connectEventStore({ servers: testEventsUrl(), namespace, name: `test-${randomUUID().slice(0, 8)}`, ...options });
}
