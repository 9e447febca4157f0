// The contract of payload encryption (implemented in encryption.ts): where keys come from.

/** Supplies AES-256 keys by id: the environment, a file, or a KMS (fetch the data key once, keep it in memory). */
export interface EncryptionKeyProvider {
  /** The id of the key that encrypts new payloads (rotation: point this at a new key; old ids still decrypt). */
  encryptionKeyId(): Promise<string>;
  /** The 32-byte key with this id; throws when it is unknown (the payload cannot be decrypted here). */
  key(id: string): Promise<Uint8Array>;
}
