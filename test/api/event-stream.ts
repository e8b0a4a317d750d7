import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** One Server-Sent Event as a client receives it (`id:` and `data:`), or the end of the stream. */
export type StreamItem = EventSourceMessage | { end: true };

export interface EventStream {
  status: number;
  headers: Headers;
  /** The next event, waiting up to `timeoutMs`; `{ end: true }` once the server closed the stream. */
  next(timeoutMs?: number): Promise<StreamItem>;
  /** Every event until the server ends the stream. */
  rest(timeoutMs?: number): Promise<EventSourceMessage[]>;
  /** Comment lines (heartbeats) received so far. */
  comments(): number;
  close(): void;
}

/** A client of `GET /api/checkouts/:id/events`, as an EventSource reads it, with the headers a test chooses. */
export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const aborter = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: aborter.signal });
  const queue: StreamItem[] = [];
  const waiting: ((item: StreamItem) => void)[] = [];
  let comments = 0;
  const push = (item: StreamItem) => {
    const waiter = waiting.shift();
    if (waiter) waiter(item);
    else queue.push(item);
  };
  const parser = createParser({ onEvent: push, onComment: () => (comments += 1) });
  void (async () => {
    try {
      const decoder = new TextDecoder();
      for await (const chunk of res.body ?? []) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // Closed by the test: the end, as for the server closing it.
    }
    push({ end: true });
  })();

  const stream: EventStream = {
    status: res.status,
    headers: res.headers,
    next(timeoutMs = 30_000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event from ${url} within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((item) => {
          clearTimeout(timer);
          resolve(item);
        });
      });
    },
    async rest(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      const events: EventSourceMessage[] = [];
      for (;;) {
        const item = await stream.next(Math.max(1, deadline - Date.now()));
        if ('end' in item) return events;
        events.push(item);
      }
    },
    comments: () => comments,
    close: () => aborter.abort(),
  };
  return stream;
}
