import type { EmulatorClock } from './clock';
import type { Ledger } from './ledger';

/** setTimeout's ceiling (about 24.8 days); a later expiry is simply looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Stripe cancels an intent whose authorization was not captured in time without anyone asking, and
 * says so with webhooks. The emulator does the same on its own clock: every request first expires
 * what is due (so a capture after the deadline meets a canceled intent), and a timer expires the
 * next authorization when its time comes in real time, so its events go out even when nothing else
 * happens. Moving the clock (`POST /_emulator/clock/advance`) expires at once whatever it passes.
 */
export class AuthorizationExpiry {
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly ledger: Ledger,
    private readonly clock: EmulatorClock,
  ) {}

  /** Expires every authorization that is due, then waits for the next one. */
  sweep(): void {
    if (this.closed) return;
    this.ledger.expireDueAuthorizations();
    this.reschedule();
  }

  /** Sets the timer for the next authorization to expire (after a request may have made or ended one). */
  reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    const next = this.ledger.nextAuthorizationExpiry();
    if (next === null) return;
    this.timer = setTimeout(() => this.sweep(), Math.min(Math.max(next - this.clock.now(), 0), MAX_TIMER_MS));
    // Pending expiries must not keep a finished test run or a stopping process alive.
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
