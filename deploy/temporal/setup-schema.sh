#!/bin/sh
# Creates Temporal's two PostgreSQL databases if missing and brings their schemas up to date (idempotent).
# The schemas are the ones built into temporal-sql-tool (--schema-name), so the tool's version decides them.
set -eu
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_HOST" -p "${POSTGRES_PORT:-5432}" -u "$POSTGRES_USER" --pw "$POSTGRES_PASSWORD" "$@"; }
for db in temporal temporal_visibility; do
  sql --db "$db" create || echo "database $db exists"
  schema=$([ "$db" = temporal ] && echo temporal || echo visibility)
  sql --db "$db" setup-schema -v 0.0 || echo "schema of $db already set up"
  sql --db "$db" update-schema --schema-name "postgresql/v12/$schema"
done
echo "schemas ready"
