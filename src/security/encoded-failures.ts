// The failure converter of encrypting workers: a failure's message and stack trace (which quote tool errors and
// API answers) travel as an encoded payload, so the payload codec encrypts them too. Loaded by path, because the
// workflow bundle includes it (Temporal's failureConverterPath).
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
