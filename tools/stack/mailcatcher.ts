import path from 'node:path';
import { assertPortFree, startProcess, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * MailDev 2 as the local mail catcher: an SMTP server that keeps every message and a web inbox
 * with a JSON API (`GET /email`), so tests can assert on the emails the notification sender sent.
 * (MailDev 3 does not install from this registry.)
 */

export interface MailCatcherOptions {
  stateDir: string;
  smtpPort: number;
  webPort: number;
  portEnvVars?: { smtpPort?: string; webPort?: string };
}

export interface MailCatcherHandle {
  smtpUrl: string;
  inboxUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startMailCatcher(opts: MailCatcherOptions): Promise<MailCatcherHandle> {
  await stopStaleProcess(opts.stateDir, 'maildev', 'mail catcher');
  await assertPortFree(opts.smtpPort, 'mail catcher SMTP', opts.portEnvVars?.smtpPort);
  await assertPortFree(opts.webPort, 'mail catcher inbox', opts.portEnvVars?.webPort);
  const maildev = path.join(path.dirname(require.resolve('maildev/package.json')), 'bin', 'maildev');
  const proc = await startProcess({
    name: 'maildev',
    label: 'mail catcher',
    command: process.execPath,
    args: [
      maildev,
      '--smtp', String(opts.smtpPort),
      '--web', String(opts.webPort),
      // --ip binds SMTP and, unless --web-ip says otherwise, the web inbox too; both loopback only.
      '--ip', '127.0.0.1',
      '--web-ip', '127.0.0.1',
      // Persisted with the rest of the stack's state, so a restart of `npm start` keeps the inbox.
      '--mail-directory', path.join(opts.stateDir, 'mail'),
    ],
    stateDir: opts.stateDir,
    graceMs: 5_000,
  });
  const inboxUrl = `http://127.0.0.1:${opts.webPort}`;
  try {
    await waitUntilHealthy('mail catcher', () => inboxAnswers(inboxUrl), { timeoutMs: 30_000, process: proc });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { smtpUrl: `smtp://127.0.0.1:${opts.smtpPort}`, inboxUrl, process: proc, stop: () => proc.stop() };
}

async function inboxAnswers(inboxUrl: string): Promise<boolean> {
  const res = await fetch(`${inboxUrl}/email`, { signal: AbortSignal.timeout(2_000) });
  if (res.status !== 200) return false;
  return Array.isArray(await res.json());
}
