//go:build tools

// gofakes3 v1.2.0 (MIT), an S3-compatible server, built from the Go module proxy without changes: the tests run
// s3Storage against it (test/storage-s3.test.ts). A module of our own so go.sum pins every byte of the build, as
// deploy/temporal-cli does for the Temporal CLI. src/storage/s3-server.ts builds it; docker-compose runs MinIO.
package tools

import _ "github.com/johannesboyne/gofakes3/cmd/gofakes3"
