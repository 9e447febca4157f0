#!/bin/sh
# Creates the namespace and registers the search attributes durable-claude publishes, unless they exist.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$ns" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$ns" --retention 30d
existing=$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$ns")
for attribute in AgentStatus:Keyword AgentPendingApprovals:Int; do
  name=${attribute%%:*}
  echo "$existing" | grep -q "$name" \
    || temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$ns" --name "$name" --type "${attribute##*:}"
done
echo "namespace $ns ready with AgentStatus and AgentPendingApprovals"
