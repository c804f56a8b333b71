/**
 * The agent's event log: every event gets the next sequence number and
 * lands in a bounded ring, so a client that reconnects with `Last-Event-ID`
 * gets what it missed, and is told plainly (`lost`) when that is no longer
 * possible, so it relists instead of trusting a stream with a hole in it.
 */
import { randomBytes } from 'node:crypto';
import { parseEventId, type AgentEventInput, type RecordedAgentEvent } from '../../api/agent/index.js';

/** What a reconnecting client gets. */
export interface Replay {
  /** True when events may have been missed: the client must resynchronise. */
  lost: boolean;
  events: RecordedAgentEvent[];
}

/** Options of an {@link EventHub}. */
export interface EventHubOptions {
  /** Events kept for replay. */
  capacity?: number;
  /** Identifies this agent process in event ids; random by default. */
  bootId?: string;
  now?: () => Date;
}

/** Sequence numbers, a replay ring and live subscribers. */
export class EventHub {
  /** Identifies this agent process; ids from another process cannot be replayed. */
  readonly bootId: string;
  private readonly capacity: number;
  private readonly now: () => Date;
  private readonly ring: RecordedAgentEvent[] = [];
  private seq = 0;
  private readonly subscribers = new Set<(event: RecordedAgentEvent) => void>();

  constructor(options: EventHubOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 1000);
    this.bootId = options.bootId ?? randomBytes(6).toString('hex');
    this.now = options.now ?? (() => new Date());
    if (!/^[A-Za-z0-9]{1,64}$/.test(this.bootId)) throw new Error('bootId must be 1-64 letters or digits');
  }

  /** Records an event and hands it to every subscriber. */
  publish(input: AgentEventInput): RecordedAgentEvent {
    this.seq += 1;
    const event = { ...input, id: `${this.bootId}-${this.seq}`, seq: this.seq, time: input.time ?? this.now().toISOString() } as RecordedAgentEvent;
    this.ring.push(event);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const fn of this.subscribers) fn(event);
    return event;
  }

  /**
   * Events after `lastEventId`. No id: nothing (a new client starts live).
   * An id from another boot, a malformed id, one in the future, or one older
   * than the ring: `lost`, with everything the ring holds.
   */
  replay(lastEventId: string | undefined): Replay {
    if (lastEventId === undefined || lastEventId === '') return { lost: false, events: [] };
    const parsed = parseEventId(lastEventId.trim());
    const oldest = this.ring[0]?.seq ?? this.seq + 1;
    if (parsed === undefined || parsed.bootId !== this.bootId || parsed.seq > this.seq || parsed.seq < oldest - 1) {
      return { lost: true, events: [...this.ring] };
    }
    return { lost: false, events: this.ring.filter((e) => e.seq > parsed.seq) };
  }

  /** Calls `fn` for every event published from now on; returns the unsubscribe function. */
  subscribe(fn: (event: RecordedAgentEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Number of live subscribers (open streams). */
  subscriberCount(): number {
    return this.subscribers.size;
  }
}
