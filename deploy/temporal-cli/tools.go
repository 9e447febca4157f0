//go:build tools

// The official Temporal CLI, built from the Go module proxy at v1.5.1 with one dependency raised: see go.mod.
package tools

import _ "github.com/temporalio/cli/cmd/temporal"
