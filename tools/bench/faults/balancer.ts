import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The load balancer in front of the API instances, as a deployment has one: customers and the
 * Stripe emulator's webhooks reach "the API" through it, so one instance dying is what it is in
 * production (the other keeps serving) rather than a lost webhook endpoint.
 *
 * It behaves like nginx's defaults: round robin over the instances; a request whose connection was
 * refused (nothing was sent) goes to the next instance, as does a read whose kept-alive connection
 * turned out dead; any other request that failed after it was sent (the instance died mid-request)
 * is answered 502 and never re-sent, because a POST may have taken effect. An instance that
 * refused is skipped for a moment.
 */

export interface Backend {
  name: string;
  port: number;
}

export interface BalancerStats {
  requests: number;
  /** Answered 502/504 by the balancer itself, per backend that failed. */
  failures: Record<string, number>;
  /** Requests moved to another instance because one refused the connection. */
  failovers: number;
}

export interface Balancer {
  url: string;
  port: number;
  stats: BalancerStats;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;
/** Longer than the API's longest answer (a 30 s long-poll). */
const UPSTREAM_TIMEOUT_MS = 40_000;
const SKIP_AFTER_REFUSAL_MS = 1_000;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function startBalancer(backends: readonly Backend[], port = 0): Promise<Balancer> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const skipUntil = new Map<string, number>();
  const stats: BalancerStats = { requests: 0, failures: {}, failovers: 0 };
  let turn = 0;

  const order = (): Backend[] => {
    const start = turn++ % backends.length;
    const rotated = [...backends.slice(start), ...backends.slice(0, start)];
    const now = Date.now();
    // Instances that refused a moment ago go last, not away: if all refused, try them anyway.
    return [...rotated.filter((b) => (skipUntil.get(b.name) ?? 0) <= now), ...rotated.filter((b) => (skipUntil.get(b.name) ?? 0) > now)];
  };

  const fail = (res: http.ServerResponse, status: number, backend: string, why: string) => {
    // The client left first (and we dropped the upstream request for it): nobody to answer.
    if (res.destroyed) return;
    stats.failures[backend] = (stats.failures[backend] ?? 0) + 1;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title: status === 504 ? 'Gateway Timeout' : 'Bad Gateway', status, detail: why }));
  };

  const server = http.createServer((req, res) => {
    stats.requests++;
    let current: http.ClientRequest | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const candidates = order();
      const attempt = (i: number) => {
        const backend = candidates[i]!;
        const upstream = (current = http.request(
          { host: '127.0.0.1', port: backend.port, method: req.method, path: req.url, headers: { ...req.headers, host: req.headers.host ?? `127.0.0.1:${backend.port}`, 'x-forwarded-for': forwardedFor(req) }, agent },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('error', () => res.destroy());
          },
        ));
        upstream.setTimeout(UPSTREAM_TIMEOUT_MS, () => upstream.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })));
        upstream.on('error', (err: NodeJS.ErrnoException) => {
          // A kept-alive connection to an instance that has just died fails on reuse: the request
          // may never have reached it, but only a read (GET) is safe to send again.
          const staleConnection = upstream.reusedSocket && IDEMPOTENT.has(req.method ?? '') && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
          if (err.code === 'ECONNREFUSED' || staleConnection) {
            skipUntil.set(backend.name, Date.now() + SKIP_AFTER_REFUSAL_MS);
            if (i + 1 < candidates.length) {
              stats.failovers++;
              attempt(i + 1);
              return;
            }
          }
          fail(res, err.code === 'ETIMEDOUT' ? 504 : 502, backend.name, `${backend.name}: ${err.code ?? err.message}`);
        });
        upstream.end(body);
      };
      attempt(0);
    });
    // The client went away: drop the upstream request with it (a long-poll, typically).
    res.on('close', () => {
      if (!res.writableEnded) current?.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a proxy passes on: the chain it was given, plus the peer it got the request from. */
function forwardedFor(req: http.IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? '127.0.0.1';
  const given = req.headers['x-forwarded-for'];
  const chain = Array.isArray(given) ? given.join(', ') : given;
  return chain ? `${chain}, ${peer}` : peer;
}
