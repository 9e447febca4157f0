// durable-claude, worker- and backend-side entry: tools, the worker, the client, replay.
export { defineTool, ToolError, ToolFatalError, type AgentTool, type ToolContext, type ToolOutput, type ToolSettings } from './tools/define-tool';
export { ToolRegistry, type ToolRegistryOptions } from './tools/registry';
export { createAgentWorker, runWorker, type AgentWorkerOptions } from './worker';
export { createAgentActivities, createModelActivities, createToolActivities, classifyModelError, type ModelActivityOptions } from './activities';
export * from './client';
export { parseHistory, replayHistory, type ReplayOutcome } from './replay';
export { findTemporalCli, startDevServer, type DevServer, type DevServerOptions } from './devserver';
export { AgentStatusKey, AgentPendingApprovalsKey } from './search-attributes';
export { transcriptLines } from './format';
export { exampleTools } from './examples/tools';
export * from './workflow';
