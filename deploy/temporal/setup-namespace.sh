#!/bin/sh
# Creates the namespace and registers the search attributes durable-claude publishes, unless they exist.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$ns" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$ns" --retention 30d
# A namespace just created takes a moment to reach every part of the server.
until existing=$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$ns" 2>/dev/null); do sleep 1; done
for attribute in AgentStatus:Keyword AgentPendingApprovals:Int AgentCostUsd:Double; do
  name=${attribute%%:*}
  # A namespace set up before AgentCostUsd existed gets it added on the next start.
  echo "$existing" | grep -qw "$name" \
    || temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$ns" --name "$name" --type "${attribute##*:}"
done
echo "namespace $ns ready with AgentStatus, AgentPendingApprovals and AgentCostUsd"
