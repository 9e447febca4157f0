import { defineSearchAttributeKey } from '@temporalio/common';

/** Where a conversation stands, for visibility queries such as `AgentStatus = "awaiting_approval"`. */
export const AgentStatusKey = defineSearchAttributeKey('AgentStatus', 'KEYWORD');
/** How many tool calls are waiting for a person right now. */
export const AgentPendingApprovalsKey = defineSearchAttributeKey('AgentPendingApprovals', 'INT');

/** What the conversation has cost so far in US dollars (absent while unknown), for `AgentCostUsd > 1` and sorting. */
export const AgentCostUsdKey = defineSearchAttributeKey('AgentCostUsd', 'DOUBLE');

export const AGENT_SEARCH_ATTRIBUTES = [AgentStatusKey, AgentPendingApprovalsKey, AgentCostUsdKey] as const;

/** The `--search-attribute` flags that register them on `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return ['--search-attribute', 'AgentStatus=Keyword', '--search-attribute', 'AgentPendingApprovals=Int', '--search-attribute', 'AgentCostUsd=Double'];
}
