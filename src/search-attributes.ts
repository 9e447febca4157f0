import { defineSearchAttributeKey } from '@temporalio/common';

/** Where a conversation stands, for visibility queries such as `AgentStatus = "awaiting_approval"`. */
export const AgentStatusKey = defineSearchAttributeKey('AgentStatus', 'KEYWORD');
/** How many tool calls are waiting for a person right now. */
export const AgentPendingApprovalsKey = defineSearchAttributeKey('AgentPendingApprovals', 'INT');

export const AGENT_SEARCH_ATTRIBUTES = [AgentStatusKey, AgentPendingApprovalsKey] as const;

/** The `--search-attribute` flags that register them on `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return ['--search-attribute', 'AgentStatus=Keyword', '--search-attribute', 'AgentPendingApprovals=Int'];
}
