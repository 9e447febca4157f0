// `durable-claude token`: a signed decision credential for local development and scripts, made with the key the
// CLI's workers verify (DURABLE_CLAUDE_DECISION_KEY, or the dev key `durable-claude dev` made).
import { parseJson, stringOption, write, type Command } from './command';
import { withAgent } from './connect';
import { bindingNeedsConversation, decisionBinding, listOption, signDecision, signingKey, ttlSecondsOption, type InputOption } from './decision-options';
import { CliError, ExitCode } from './errors';

export const TOKEN_USAGE =
  'usage: durable-claude token <conversationId> <toolUseId> --decision approve|reject --subject WHO [--roles a,b] [--groups g] [--email E] [--name N] [--input JSON] [--ttl 5m]';

const token: Command = {
  usage: TOKEN_USAGE,
  options: {
    decision: { type: 'string' },
    subject: { type: 'string' },
    roles: { type: 'string' },
    groups: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    input: { type: 'string' },
    ttl: { type: 'string' },
  },
  async run(positionals, values) {
    const [conversationId, toolUseId, extra] = positionals;
    if (!conversationId || !toolUseId || extra) throw CliError.usage('give the conversation id and the tool_use id the token decides');
    const decision = stringOption(values, 'decision');
    if (decision !== 'approve' && decision !== 'reject') throw CliError.usage(`--decision must be approve or reject${decision === undefined ? '' : `, got '${decision}'`}`);
    const subject = stringOption(values, 'subject')?.trim();
    if (!subject) throw CliError.usage('--subject is required: who the token says decides');
    const inputText = stringOption(values, 'input');
    if (inputText !== undefined && decision === 'reject') throw CliError.usage('--input goes with --decision approve (the input approved)');
    const input: InputOption = inputText === undefined ? { given: false } : { given: true, value: parseJson(inputText, '--input') };
    const roles = listOption(values, 'roles');
    const groups = listOption(values, 'groups');
    const ttlSeconds = ttlSecondsOption(values);
    const email = stringOption(values, 'email');
    const name = stringOption(values, 'name');
    // The key before any connection: without one there is nothing to do.
    const key = signingKey();
    const target = { conversationId, toolUseId, decision } as const;
    const binding = bindingNeedsConversation(decision, input)
      ? await withAgent(values, (agent) => decisionBinding(target, input, agent.getHandle(conversationId)))
      : await decisionBinding(target, input);
    const signed = await signDecision(
      {
        subject,
        binding,
        ...(email !== undefined ? { email } : {}),
        ...(name !== undefined ? { name } : {}),
        ...(roles ? { roles } : {}),
        ...(groups ? { groups } : {}),
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
      },
      key,
    );
    write(signed);
    return ExitCode.ok;
  },
};

export const tokenCommands: Record<string, Command> = { token };
