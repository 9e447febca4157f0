// Structured logs: JSON lines with the conversation's place (turn, tool_use id) next to Temporal's ids.
import { jsonLogger } from '../src/observability';
import { activityLogAttributes } from '../src/observability/logs';
import { TurnLogAttributes } from '../src/observability/workflow-interceptors';
import type { ActivityInput, GetLogAttributesInput } from '@temporalio/workflow';

test('jsonLogger writes one JSON object per line with the level, the message and every attribute', () => {
  const lines: string[] = [];
  const logger = jsonLogger({ level: 'INFO', write: (line) => lines.push(line) });
  logger.debug('not written below INFO');
  logger.info('Tool ran', { workflowId: 'conv-1', runId: 'run-1', turn: 2, toolUseId: 'toolu_1', bytes: 10n });
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  expect(line).toMatchObject({ level: 'INFO', message: 'Tool ran', workflowId: 'conv-1', runId: 'run-1', turn: 2, toolUseId: 'toolu_1', bytes: '10' });
  expect(new Date(String(line.time)).getTime()).not.toBeNaN();
});

test('an activity log line carries the turn and tool_use id of its input', () => {
  expect(activityLogAttributes({ toolUseId: 'toolu_9', toolName: 'lookup', turn: 3, input: {} })).toEqual({ turn: 3, toolUseId: 'toolu_9', toolName: 'lookup' });
  expect(activityLogAttributes({ turn: 1, model: 'claude' })).toEqual({ turn: 1 });
  expect(activityLogAttributes(undefined)).toEqual({});
});

test('a workflow log line carries the conversation id and the turn of the latest activity the workflow scheduled', async () => {
  const outbound = new TurnLogAttributes();
  const attributes = (input: GetLogAttributesInput) => outbound.getLogAttributes!(input, (i) => i);
  expect(attributes({ workflowId: 'conv-1' })).toEqual({ workflowId: 'conv-1', conversationId: 'conv-1' });
  await outbound.scheduleActivity!({ args: [{ turn: 4, model: 'claude' }] } as unknown as ActivityInput, async () => 'scheduled');
  expect(attributes({ workflowId: 'conv-1', runId: 'run-1' })).toEqual({ workflowId: 'conv-1', conversationId: 'conv-1', runId: 'run-1', turn: 4 });
});
