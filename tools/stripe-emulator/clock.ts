/**
 * The emulator's own clock: real time plus an offset that tests move forward
 * (`POST /_emulator/clock/advance`), so a day-long rule such as Stripe forgetting idempotency keys
 * after 24 hours can be shown without waiting a day. Only rules about elapsed time read it (keys
 * expiring, search lagging behind new intents); object timestamps and webhook signatures keep real
 * time, so a receiver's signature tolerance still holds.
 */
export class EmulatorClock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  get offsetSeconds(): number {
    return Math.floor(this.offsetMs / 1000);
  }

  reset(): void {
    this.offsetMs = 0;
  }
}
