/**
 * The event stream behind `tshpool events`: numbers every event (seq), keeps a
 * bounded history ring and serves the live subscribers. A subscriber that stops
 * reading is dropped once its queue passes EVENT_SUBSCRIBER_QUEUE_BYTES; it never
 * slows the daemon or other subscribers.
 */
import type { Socket } from 'node:net';
import { encodeControl } from '../protocol/codec.js';
import type { SessionEvent, SessionEventType } from '../protocol/events.js';
import type { EventCounters } from '../protocol/messages.js';
import type { Logger } from './log.js';

/** Past events kept for `events --history N` / `--since SEQ`. */
export const EVENT_HISTORY_MAX = 1000;
/** Unsent bytes after which a subscriber counts as stalled and is dropped (~500 events). */
export const EVENT_SUBSCRIBER_QUEUE_BYTES = 64 * 1024;

/** What a subscriber wants: one session's events, some types, or all. */
export interface EventFilter {
  session: string | null;
  types: readonly SessionEventType[] | null;
}

interface Subscriber {
  socket: Socket;
  filter: EventFilter;
}

function matches(filter: EventFilter, e: SessionEvent): boolean {
  return (filter.session === null || filter.session === e.session) && (filter.types === null || filter.types.includes(e.type));
}

export class EventHub {
  private readonly history: SessionEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private seq = 0;
  private readonly byType: Partial<Record<SessionEventType, number>> = {};
  private droppedSubscribers = 0;

  constructor(private readonly log: Logger) {}

  /** Numbers the event, keeps it and sends it to the subscribers; returns it with its seq. */
  publish(event: Omit<SessionEvent, 'seq'>): SessionEvent {
    const numbered: SessionEvent = { seq: ++this.seq, ...event };
    this.byType[event.type] = (this.byType[event.type] ?? 0) + 1;
    this.history.push(numbered);
    if (this.history.length > EVENT_HISTORY_MAX) this.history.shift();
    for (const sub of this.subscribers) this.deliver(sub, numbered);
    return numbered;
  }

  /**
   * Streams past events — the last `history` matching ones, or with `since` every
   * kept one after that seq — then live ones, until the socket closes.
   */
  subscribe(socket: Socket, filter: EventFilter, past: { history: number; since: number | null }): void {
    const sub: Subscriber = { socket, filter };
    this.subscribers.add(sub);
    socket.once('close', () => this.subscribers.delete(sub));
    const kept = this.history.filter((e) => matches(filter, e));
    const replay = past.since !== null ? kept.filter((e) => e.seq > past.since!) : past.history > 0 ? kept.slice(-past.history) : [];
    for (const e of replay) this.deliver(sub, e);
  }

  counters(): EventCounters {
    return { lastSeq: this.seq, byType: { ...this.byType }, subscribers: this.subscribers.size, droppedSubscribers: this.droppedSubscribers };
  }

  private deliver(sub: Subscriber, event: SessionEvent): void {
    if (!matches(sub.filter, event) || sub.socket.destroyed) return;
    if (sub.socket.writableLength > EVENT_SUBSCRIBER_QUEUE_BYTES) {
      this.log.info('dropping an event subscriber that stopped reading');
      this.droppedSubscribers++;
      this.subscribers.delete(sub);
      sub.socket.destroy();
      return;
    }
    sub.socket.write(encodeControl({ type: 'event', event }));
  }
}
