// durable-claude/dev, for trying things out and for tests: a local Temporal dev server and the example tools.
// Not for production workers; the main entry does not load any of it.

/** Starts a local Temporal dev server (SQLite file, optional Web UI) and stops it with stop(). */
export { startDevServer, type DevServer, type DevServerOptions } from './devserver';
/** Finds (or builds once) the Temporal CLI binary that startDevServer runs. */
export { findTemporalCli, type FindTemporalCliOptions, type TemporalCli } from './devserver';
/** The demo's tools: get_weather, get_time and an approval-gated send_email. */
export { exampleTools, type ExampleToolsOptions, type SentEmail } from './examples/tools';
/** Starts a local NATS server with JetStream: the event store for live output (built once from the Go module proxy). */
export { startEventServer, findNatsServer, type EventServer, type EventServerOptions } from './event-server';
/** The HTTP server `durable-claude dev` runs for live output: Server-Sent Events and a page per conversation. */
export { startLiveOutputServer, type LiveOutputServer, type LiveOutputServerOptions } from './streaming/live-server';
/** The embedded store of large payloads `durable-claude dev` uses (next to its database, `.temporal/payloads`). */
export { fileSystemStorage, DEV_STORAGE_DIR, type FileSystemStorageOptions } from './storage';
/** An S3-compatible server on this machine (gofakes3, built once from the Go module proxy), to try s3Storage. */
export { startS3Server, findS3Server, type S3Server } from './storage/s3-server';
