// Archived transcript segments: the stretch of a long conversation the model no longer sees (a compaction
// summarized it) leaves workflow memory at a hand-over and is kept in the worker's external storage, one payload
// per segment, each linking to the one before it, so what the workflow carries stays the same size however long
// the conversation runs. Clients read the segments back with the same storage.
import { defaultPayloadConverter, StorageDriverClaim, type ExternalStorage, type Payload, type PayloadCodec } from '@temporalio/common';
import type { TranscriptSegment, TranscriptSegmentRef } from '../workflows/types';

export interface SegmentStoreOptions {
  /** The worker's payload codecs (e.g. encryption), applied as to every other payload; readers need the same. */
  codecs?: readonly PayloadCodec[];
  target?: { namespace: string; workflowId: string };
}

/**
 * Stores one segment with the storage's driver: the one its selector picks, else its first (a segment is always
 * stored, whatever its size: that is what takes it out of the workflow).
 */
export async function storeTranscriptSegment(storage: ExternalStorage, segment: TranscriptSegment, options: SegmentStoreOptions = {}): Promise<TranscriptSegmentRef> {
  let payloads: Payload[] = [defaultPayloadConverter.toPayload(segment)];
  // Codecs in the order the data converter applies them on the way out.
  for (const codec of options.codecs ?? []) payloads = await codec.encode(payloads);
  const { target } = options;
  const context = target ? { target: { kind: 'workflow' as const, namespace: target.namespace, id: target.workflowId } } : {};
  const driver = storage.driverSelector(context, payloads[0]!) ?? storage.drivers[0]!;
  const [claim] = await driver.store(context, payloads);
  return {
    driver: driver.name,
    claim: { ...claim!.claimData },
    fromMessage: segment.fromMessage,
    toMessage: segment.fromMessage + segment.messages.length,
    fromTurn: segment.fromTurn,
    toTurn: segment.fromTurn + segment.turns.length,
  };
}

/** Reads one segment back; a clear error when this storage has no such driver or the segment does not match its ref. */
export async function readTranscriptSegment(storage: ExternalStorage, ref: TranscriptSegmentRef, codecs: readonly PayloadCodec[] = []): Promise<TranscriptSegment> {
  const driver = storage.getDriver(ref.driver);
  if (!driver) {
    throw new Error(`transcript segment ${ref.fromMessage}–${ref.toMessage} is in storage driver '${ref.driver}', which this client's externalStorage does not have (it has: ${storage.drivers.map((d) => d.name).join(', ')})`);
  }
  let payloads = await driver.retrieve({}, [new StorageDriverClaim(ref.claim)]);
  for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
  const segment = defaultPayloadConverter.fromPayload<TranscriptSegment>(payloads[0]!);
  const ends = segment.fromMessage + segment.messages.length === ref.toMessage && segment.fromTurn + segment.turns.length === ref.toTurn;
  if (segment.fromMessage !== ref.fromMessage || segment.fromTurn !== ref.fromTurn || !ends) {
    throw new Error(`transcript segment ${ref.fromMessage}–${ref.toMessage} read back as ${segment.fromMessage}–${segment.fromMessage + segment.messages.length}`);
  }
  return segment;
}

/**
 * Reads archived segments for one conversation, newest to oldest along their links. It remembers each segment's
 * link (not its content), so a later page, or a newer segment that links to known ones, walks no segment twice.
 */
export class TranscriptArchiveReader {
  /** A segment's claim → the segment before it (null: the first). */
  readonly #previous = new Map<string, TranscriptSegmentRef | null>();
  #lastRead: { key: string; segment: TranscriptSegment } | undefined;

  constructor(
    private readonly storage: ExternalStorage,
    /** The client's payload codecs: the workers' (a segment is encoded as every other payload is). */
    private readonly codecs: readonly PayloadCodec[] = [],
  ) {}

  /** The segment holding message `index` (or, with `kind: 'turn'`, turn record `index`), walking back from `last`. */
  async segmentWith(last: TranscriptSegmentRef, index: number, kind: 'message' | 'turn' = 'message'): Promise<TranscriptSegment> {
    const covers = (ref: TranscriptSegmentRef) => (kind === 'message' ? ref.fromMessage <= index && index < ref.toMessage : ref.fromTurn <= index && index < ref.toTurn);
    for (let ref: TranscriptSegmentRef | null = last; ref; ) {
      if (covers(ref)) return this.#read(ref);
      const key = keyOf(ref);
      if (!this.#previous.has(key)) await this.#read(ref);
      ref = this.#previous.get(key) ?? null;
    }
    throw new RangeError(`no archived segment holds ${kind} ${index}`);
  }

  async #read(ref: TranscriptSegmentRef): Promise<TranscriptSegment> {
    const key = keyOf(ref);
    if (this.#lastRead?.key === key) return this.#lastRead.segment;
    const segment = await readTranscriptSegment(this.storage, ref, this.codecs);
    this.#previous.set(key, segment.previous);
    this.#lastRead = { key, segment };
    return segment;
  }
}

function keyOf(ref: TranscriptSegmentRef): string {
  return `${ref.driver}:${JSON.stringify(ref.claim)}`;
}
