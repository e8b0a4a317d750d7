import http from 'node:http';

/**
 * A small JSON client over node:http with keep-alive. The load generator shares two cores with the
 * whole stack, so it uses the cheapest client Node has rather than fetch (undici's fetch costs
 * several times the CPU per request, which the bench would then steal from the service it measures).
 */

export interface HttpResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
  /** Request written to response fully read. */
  ms: number;
}

export class HttpTimeoutError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly timeoutMs: number,
  ) {
    super(`${method} ${path}: no answer within ${timeoutMs} ms`);
    this.name = 'HttpTimeoutError';
  }
}

export interface HttpClient {
  request<T = unknown>(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number }): Promise<HttpResponse<T>>;
  /**
   * A streaming GET (text/event-stream): `onResponse` gets the body as it arrives; resolves when the
   * server ends the stream, rejects on a non-200 answer, a connection error or after `timeoutMs`.
   */
  stream(path: string, options: { headers?: Record<string, string>; timeoutMs: number }, onResponse: (body: http.IncomingMessage) => void): Promise<void>;
  close(): void;
}

export function createHttpClient(baseUrl: string, { maxSockets = 512 }: { maxSockets?: number } = {}): HttpClient {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
  return {
    request<T>(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}) {
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const timeoutMs = options.timeoutMs ?? 10_000;
      return new Promise<HttpResponse<T>>((resolve, reject) => {
        const started = performance.now();
        const req = http.request(
          {
            host: url.hostname,
            port: url.port,
            method,
            path,
            agent,
            headers: {
              accept: 'application/json',
              ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
              ...options.headers,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              clearTimeout(timer);
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown = text;
              if (text && /json/.test(res.headers['content-type'] ?? '')) {
                try {
                  body = JSON.parse(text);
                } catch {
                  // A truncated or non-JSON body stays text; the caller sees it in the status handling.
                }
              }
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, ms: performance.now() - started });
            });
          },
        );
        const timer = setTimeout(() => req.destroy(new HttpTimeoutError(method, path, timeoutMs)), timeoutMs);
        req.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        req.end(payload);
      });
    },
    stream(path, options, onResponse) {
      return new Promise<void>((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port, method: 'GET', path, agent, headers: { accept: 'text/event-stream', ...options.headers } }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            clearTimeout(timer);
            reject(new Error(`GET ${path} answered ${res.statusCode}`));
            return;
          }
          onResponse(res);
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        const timer = setTimeout(() => req.destroy(new HttpTimeoutError('GET', path, options.timeoutMs)), options.timeoutMs);
        req.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        req.end();
      });
    },
    close() {
      agent.destroy();
    },
  };
}
