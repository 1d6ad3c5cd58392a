#!/bin/sh
# One-shot job (service temporal-schema, image temporalio/admin-tools): puts Temporal's schema
# into the temporal and temporal_visibility databases, or upgrades it to this admin-tools
# version. Both steps are idempotent (setup-schema never lowers a recorded version), so the job
# runs on every `docker compose up` and the server starts only after it exits 0.
# The databases and the role come from deploy/postgres/initdb/. temporal-sql-tool reads the
# password from SQL_PASSWORD, so it never shows on a command line.
set -eu

: "${SQL_HOST:?}" "${SQL_PORT:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
SCHEMA_ROOT=${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}

schema() {  # database, schema folder under $SCHEMA_ROOT (temporal | visibility)
  echo "temporal-schema: database $1 <- $SCHEMA_ROOT/$2/versioned"
  temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" --port "$SQL_PORT" --user "$SQL_USER" \
    --db "$1" setup-schema -v 0.0
  temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" --port "$SQL_PORT" --user "$SQL_USER" \
    --db "$1" update-schema -d "$SCHEMA_ROOT/$2/versioned"
}

schema "${TEMPORAL_DB:-temporal}" temporal
schema "${VISIBILITY_DB:-temporal_visibility}" visibility
echo "temporal-schema: done"
