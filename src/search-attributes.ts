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

/** What registerSearchAttributes did: the attributes it added, or why it could not look or add. */
export interface SearchAttributeRegistration {
  added: string[];
  problem?: string;
}

/** The operator service of a client or worker connection (both have one). */
interface OperatorServiceLike {
  listSearchAttributes(request: { namespace: string }): Promise<{ customAttributes?: Record<string, unknown> | null }>;
  addSearchAttributes(request: { namespace: string; searchAttributes: Record<string, number> }): Promise<unknown>;
}

// temporal.api.enums.v1.IndexedValueType, by the key types we use.
const INDEXED_VALUE_TYPES: Record<(typeof AGENT_SEARCH_ATTRIBUTES)[number]['type'], number> = { KEYWORD: 2, INT: 3, DOUBLE: 4 };

/**
 * Adds the conversation search attributes the namespace lacks (AgentStatus, AgentPendingApprovals, AgentCostUsd).
 * Never throws: a namespace where this caller may not add them (Temporal Cloud registers them in its own console or
 * tcld) keeps working, its conversations without the attributes it lacks, and the problem is returned.
 */
export async function registerSearchAttributes(operator: OperatorServiceLike, namespace: string): Promise<SearchAttributeRegistration> {
  try {
    const { customAttributes } = await operator.listSearchAttributes({ namespace });
    const missing = AGENT_SEARCH_ATTRIBUTES.filter((key) => !Object.hasOwn(customAttributes ?? {}, key.name));
    if (missing.length === 0) return { added: [] };
    await operator.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_VALUE_TYPES[key.type]])) });
    return { added: missing.map((key) => key.name) };
  } catch (err) {
    return { added: [], problem: err instanceof Error ? err.message : String(err) };
  }
}
