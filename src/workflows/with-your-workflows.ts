// The bundle's entry when AgentPlugin joins a worker that has workflows of its own: the conversation workflow and
// the user's, side by side. The bundler resolves the second module to the user's workflowsPath (an alias the plugin
// sets in configureBundler), so the user's code is bundled as it would be without the plugin.
export * from './index';
// @ts-expect-error resolved by the workflow bundler only (AgentPlugin's alias for your workflowsPath)
export * from '__durable_claude_user_workflows';
