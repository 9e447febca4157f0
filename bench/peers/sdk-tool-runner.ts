// Peer: the Anthropic SDK's own tool runner (client.beta.messages.toolRunner) in one process. Nothing is durable:
// the lower bound on what a tool-use loop costs. Its tool calls of one reply run concurrently, as ours do.
import Anthropic from '@anthropic-ai/sdk';
import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import { errorMessage, servePeer } from '../lib/peer-loop';
import { BENCH_MODEL } from '../lib/protocol';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from '../lib/work-tool';

const anthropic = new Anthropic({ apiKey: 'sk-ant-bench', baseURL: process.env.FAKE_URL, maxRetries: 0 });

const work = betaZodTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, inputSchema: workInput, run: doWork });

void servePeer(
  async (spec) => {
    const t0 = performance.now();
    try {
      const final = await anthropic.beta.messages.toolRunner({
        model: BENCH_MODEL,
        max_tokens: 1024,
        messages: [{ role: 'user', content: spec.prompt }],
        tools: [work],
        max_iterations: spec.turns + 2,
        ...(spec.system !== undefined ? { system: spec.system } : {}),
      });
      if (final.stop_reason !== 'end_turn') throw new Error(`stopped with ${final.stop_reason}`);
      return { prompt: spec.prompt, ok: true, wallMs: performance.now() - t0 };
    } catch (err) {
      return { prompt: spec.prompt, ok: false, wallMs: performance.now() - t0, error: errorMessage(err) };
    }
  },
  async () => undefined,
);
