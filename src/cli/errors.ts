// Exit codes scripts can rely on, and the errors that carry them.
import { ExternalStorageNotConfiguredError } from '@temporalio/common';
import {
  AgentClientError,
  ConversationCancelledError,
  ConversationAlreadyExistsError,
  ConversationFailedError,
  ConversationFinishedError,
  ConversationNotFoundError,
  DecisionRefusedError,
  InvalidConversationOptionsError,
  InvalidOffsetError,
  LiveOutputUnavailableError,
  MessageRefusedError,
  NoWorkerAnsweredError,
} from '../client';

export const ExitCode = {
  ok: 0,
  notCompleted: 1,
  usage: 2,
  notFound: 3,
  unreachable: 4,
  failed: 5,
  refused: 6,
  missingApiKey: 7,
  replayDiverged: 8,
  noWorker: 9,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  constructor(
    message: string,
    readonly code: ExitCodeValue,
  ) {
    super(message);
  }

  static usage(message: string): CliError {
    return new CliError(message, ExitCode.usage);
  }

  static from(err: unknown): CliError {
    if (err instanceof CliError) return err;
    if (err instanceof InvalidConversationOptionsError || err instanceof LiveOutputUnavailableError || err instanceof InvalidOffsetError) return new CliError(err.message, ExitCode.usage);
    if (err instanceof NoWorkerAnsweredError) return new CliError(err.message, ExitCode.noWorker);
    if (err instanceof ExternalStorageNotConfiguredError) {
      return new CliError(
        `${err.message}. This conversation's history holds references to large payloads: pass --storage-dir DIR, or set DURABLE_CLAUDE_STORAGE_DIR or DURABLE_CLAUDE_S3_BUCKET as the worker has them.`,
        ExitCode.usage,
      );
    }
    if (err instanceof ConversationNotFoundError) return new CliError(err.message, ExitCode.notFound);
    if (err instanceof ConversationFinishedError) return new CliError(err.message, ExitCode.refused);
    if (err instanceof DecisionRefusedError || err instanceof MessageRefusedError || err instanceof ConversationAlreadyExistsError) {
      return new CliError(err.message, ExitCode.refused);
    }
    if (err instanceof ConversationFailedError || err instanceof ConversationCancelledError) return new CliError(err.message, ExitCode.failed);
    if (err instanceof AgentClientError) return new CliError(err.message, ExitCode.notCompleted);
    return new CliError(err instanceof Error ? err.message : String(err), ExitCode.notCompleted);
  }
}
