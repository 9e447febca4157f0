// The Messages API's message-threads beta (../shared/reference/message-threads.md): one name for the model activity
// that sends it and the fake API that requires it.
export const MESSAGE_THREADS_BETA = 'message-threads-2026-08-12';
