/**
 * The event stream behind `tshpool events`: a bounded history ring and the live
 * subscribers. A subscriber that stops reading is dropped once its queue passes
 * EVENT_SUBSCRIBER_QUEUE_BYTES; it never slows the daemon or other subscribers.
 */
import type { Socket } from 'node:net';
import type { HookEvent, HookEventType } from '../hooks/hooks.js';
import { encodeControl } from '../protocol/codec.js';
import type { SessionEvent, SessionEventType } from '../protocol/messages.js';
import type { Logger } from './log.js';

/** Past events kept for `events --history N`. */
export const EVENT_HISTORY_MAX = 1000;
/** Unsent bytes after which a subscriber counts as stalled and is dropped (~500 events). */
export const EVENT_SUBSCRIBER_QUEUE_BYTES = 64 * 1024;

const WIRE_TYPE: { [T in HookEventType]: SessionEventType } = {
  new_session: 'session.created',
  reattach: 'session.attached',
  busy: 'session.busy',
  client_disconnect: 'session.detached',
  shell_disconnect: 'session.removed',
};

export function toSessionEvent(e: HookEvent): SessionEvent {
  const { type, sessionName, at, ...rest } = e;
  return { type: WIRE_TYPE[type], session: sessionName, at, ...rest };
}

interface Subscriber {
  socket: Socket;
  session: string | null;
}

export class EventHub {
  private readonly history: SessionEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly log: Logger) {}

  publish(event: SessionEvent): void {
    this.history.push(event);
    if (this.history.length > EVENT_HISTORY_MAX) this.history.shift();
    for (const sub of this.subscribers) this.deliver(sub, event);
  }

  /** Streams the last `history` matching events, then live ones, until the socket closes. */
  subscribe(socket: Socket, session: string | null, history: number): void {
    const sub: Subscriber = { socket, session };
    this.subscribers.add(sub);
    socket.once('close', () => this.subscribers.delete(sub));
    if (history > 0) {
      const past = this.history.filter((e) => session === null || e.session === session).slice(-history);
      for (const e of past) this.deliver(sub, e);
    }
  }

  private deliver(sub: Subscriber, event: SessionEvent): void {
    if (sub.session !== null && sub.session !== event.session) return;
    if (sub.socket.destroyed) return;
    if (sub.socket.writableLength > EVENT_SUBSCRIBER_QUEUE_BYTES) {
      this.log.info('dropping an event subscriber that stopped reading');
      this.subscribers.delete(sub);
      sub.socket.destroy();
      return;
    }
    sub.socket.write(encodeControl({ type: 'event', event }));
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }
}
