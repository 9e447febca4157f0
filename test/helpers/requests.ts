import type { FakeMessagesApi, RecordedRequest } from '../../src/testing';

/** The fake API's requests for the conversation whose first user message contains `prompt`. */
export function requestsOf(fake: FakeMessagesApi, prompt: string): RecordedRequest[] {
  return fake.requestsFor(prompt);
}
