// External storage for large payloads (Temporal's data-converter external storage): tool results, tool inputs and
// transcripts over the threshold go to a store and history holds references. Give the same storage to the worker
// (createAgentWorker({ externalStorage })) and to every client (AgentClient.connect({ externalStorage })).
export { DEFAULT_PAYLOAD_SIZE_THRESHOLD } from './threshold';
export { fileSystemStorage, FileSystemStorageDriver, FILE_SYSTEM_DRIVER_NAME, type FileSystemStorageOptions } from './filesystem';
export { s3Storage, S3StorageDriver, S3_DRIVER_NAME, type S3StorageOptions } from './s3';
export { storageFromEnv, DEV_STORAGE_DIR, type ConfiguredStorage, type StorageSettings } from './config';
export { readTranscriptSegment, storeTranscriptSegment, TranscriptArchiveReader } from './transcript-archive';
