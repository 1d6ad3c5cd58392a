#!/bin/sh
# One-shot job (service temporal-namespace, image temporalio/admin-tools): waits until the
# frontend serves, then creates the namespace and the custom search attributes the returns
# worker writes (SEARCH_ATTRIBUTES: "Name=Type ...", the same as worker.SEARCH_ATTRIBUTES).
# Running it again changes nothing: an existing namespace is kept, and creating a search
# attribute that exists with the same type succeeds. A type clash fails the job, and with it
# the start of the worker.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${SEARCH_ATTRIBUTES:?}"
# How long Temporal keeps a closed case's history (docs/customer-data.md): PostgreSQL is the
# business record, so days, not years. An existing namespace is set to it too.
RETENTION=${NAMESPACE_RETENTION:-7d}
WAIT_SECONDS=${WAIT_SECONDS:-120}

waited=0
wait_for() {  # what, command...: retry a check every second for up to WAIT_SECONDS in total
  what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$waited" -ge "$WAIT_SECONDS" ]; then
      echo "temporal-namespace: gave up waiting for $what after ${WAIT_SECONDS}s" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

cli() {  # the temporal CLI against this frontend
  temporal "$@" --address "$TEMPORAL_ADDRESS"
}

wait_for "the frontend at $TEMPORAL_ADDRESS" cli operator cluster health

if cli operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
  echo "temporal-namespace: namespace $TEMPORAL_NAMESPACE exists"
  cli operator namespace update --namespace "$TEMPORAL_NAMESPACE" --retention "$RETENTION"
else
  cli operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$RETENTION"
fi
# A new namespace reaches the server's caches some seconds after it is registered, and the
# operator service (search attributes) may see it later than `namespace describe` does.
wait_for "namespace $TEMPORAL_NAMESPACE" cli operator search-attribute list --namespace "$TEMPORAL_NAMESPACE"

for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  if [ -z "$name" ] || [ "$type" = "$pair" ]; then
    echo "temporal-namespace: '$pair' in SEARCH_ATTRIBUTES is not Name=Type" >&2
    exit 1
  fi
  cli operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type"
done
echo "temporal-namespace: namespace $TEMPORAL_NAMESPACE has search attributes $SEARCH_ATTRIBUTES"
