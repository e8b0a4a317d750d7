import type { CompensationName, CompensationState } from './contract';

type Undo = () => Promise<string>;

/**
 * The saga's undo stack. A step's undo is pushed before the step runs, so a step that timed out
 * after doing its work is still undone; every undo is idempotent and starts with its own guard.
 * Undo failures are kept, never swallowed: they stay `failed` until an operator retries them.
 */
export class Compensations {
  private readonly undos: { name: CompensationName; undo: Undo }[] = [];

  constructor(
    /** The status document's list: updated in place so the status query shows progress. */
    private readonly report: CompensationState[],
    private readonly onChange: () => void,
    /** Awaited as each undo starts, so whoever follows the checkout sees which one runs. */
    private readonly beforeEach: () => Promise<void> = async () => {},
  ) {}

  add(name: CompensationName, undo: Undo): void {
    this.undos.push({ name, undo });
  }

  /** Runs every undo not yet done, newest first; returns the names that still failed. */
  async run(): Promise<CompensationName[]> {
    if (this.report.length === 0) {
      for (const { name } of [...this.undos].reverse()) this.report.push({ name, status: 'pending' });
      this.onChange();
    }
    const failed: CompensationName[] = [];
    for (const entry of this.report) {
      if (entry.status === 'done') continue;
      const undo = this.undos.find((u) => u.name === entry.name)!.undo;
      entry.status = 'running';
      delete entry.error;
      this.onChange();
      await this.beforeEach();
      try {
        entry.outcome = await undo();
        entry.status = 'done';
      } catch (err) {
        entry.status = 'failed';
        entry.error = describeFailure(err);
        failed.push(entry.name);
      }
      this.onChange();
    }
    return failed;
  }
}

/**
 * Every message down the cause chain. An undo whose retries outlast its window ends, from server
 * 1.30 on, as a ScheduleToClose timeout whose cause is the last attempt's real failure: the
 * operator needs that one ("card_declined", "injected outage"), not only "giving up retrying".
 */
export function describeFailure(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err; e instanceof Error && messages.length < 5; e = (e as { cause?: unknown }).cause) messages.push(e.message);
  return messages.length ? messages.join(': ') : String(err);
}
