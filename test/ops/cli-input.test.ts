import { randomUUID } from 'node:crypto';
import { main } from '../../src/cli/main';
import type { Io } from '../../src/cli/output';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { runCli } from './support';

/**
 * An operator pastes ids, emails and reasons from tickets, chats and emails: a terminal escape, a
 * bidi override or a stray control character in them is refused as a usage error (exit 2) naming
 * the argument, before anything is connected or changed, and is never echoed raw to the terminal.
 * (NUL cannot be passed in argv at all; an unpaired surrogate arrives as U+FFFD.)
 */
const CONTROL_CHARACTERS: [name: string, char: string][] = [
  ['BEL', '\u0007'],
  ['tab', '\t'],
  ['line feed', '\n'],
  ['ESC (clear screen)', '\u001b[2J'],
  ['DEL', '\u007f'],
  ['C1 NEL', '\u0085'],
  ['C1 CSI', '\u009b31m'],
  ['bidi override RLO', '\u202e'],
];

/** What must never reach a terminal raw: C0 but line feed, DEL, C1, bidi embeddings, overrides and isolates. */
function hasRawControl(text: string): boolean {
  return [...text].some((char) => {
    const code = char.codePointAt(0)!;
    return (code < 0x20 && char !== '\n') || (code >= 0x7f && code <= 0x9f) || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
  });
}

const id = randomUUID();
const ARGUMENTS: [argument: string, argv: (char: string) => string[]][] = [
  ['checkoutId', (c) => ['status', `${id.slice(0, 8)}${c}${id.slice(8)}`]],
  ['checkoutId', (c) => ['cancel', `checkout-${c}${id}`]],
  ['checkoutId', (c) => ['retry-compensation', `${id}${c}x`]],
  ['orderOrCheckoutId', (c) => ['refund', `${id.slice(0, 8)}${c}${id.slice(8)}`]],
  ['--reason', (c) => ['cancel', id, '--reason', `customer${c}called`]],
  ['--reason', (c) => ['refund', id, '--reason', `damaged${c}item`]],
  ['--key', (c) => ['refund', id, '--key', `ticket${c}4711`]],
  ['--email', (c) => ['list', '--email', `ana${c}@example.com`]],
];

async function runInProcess(args: string[], json = false): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) };
  // No stack needed: usage errors are found before anything is connected.
  const code = await main(['node', 'checkout-saga', ...args, ...(json ? ['--json'] : [])], io, { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
  return { code, stdout, stderr };
}

describe('the CLI’s string arguments', () => {
  it.each(ARGUMENTS)('%s with a control character is a usage error naming it, and nothing raw reaches the terminal', async (argument, argv) => {
    const outcomes: Record<string, { code: number; names: boolean; raw: boolean; stdout: string }> = {};
    for (const [name, char] of CONTROL_CHARACTERS) {
      const run = await runInProcess(argv(char));
      outcomes[name] = { code: run.code, names: run.stderr.includes(argument.replace(/^--/, '')), raw: hasRawControl(run.stderr), stdout: run.stdout };
    }
    expect(outcomes).toEqual(Object.fromEntries(CONTROL_CHARACTERS.map(([name]) => [name, { code: 2, names: true, raw: false, stdout: '' }])));
  });

  it('the real bin refuses a terminal escape in a checkout id with exit 2 and prints it escaped', async () => {
    let h: SagaHarness | undefined;
    try {
      h = await startSagaHarness({ startWorker: false });
      const run = await runCli(h, ['status', `${id}\u001b[2J`]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('checkoutId');
      expect(run.stderr).toContain('\\u001b[2J');
      expect(hasRawControl(run.stderr)).toBe(false);
    } finally {
      await h?.close();
    }
  });
});
