//go:build tools

// The official NATS server at v2.15.2, the JetStream store for live output (token deltas and workflow events): a
// module of our own so go.sum pins every byte of the build, as deploy/temporal-cli does for the Temporal CLI.
// src/event-server.ts builds it on machines without a nats-server.
package tools

import _ "github.com/nats-io/nats-server/v2"
