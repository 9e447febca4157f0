//go:build tools

// The official Temporal server v1.29.1 (the version docker-compose.yml runs) and its SQL schema tool, built from the
// Go module proxy without changes: test/production-stack.test.ts runs them on PostgreSQL, the compose topology
// without containers. A module of our own so go.sum pins every byte of the build, as deploy/temporal-cli does for
// the CLI. test/helpers/temporal-server.ts builds it.
package tools

import (
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
