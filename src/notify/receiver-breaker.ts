import { setTimeout as sleep } from 'node:timers/promises';
import { BrokenCircuitError, circuitBreaker, CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import { DeliveryError, deliveryError } from './delivery-errors.js';

export interface ReceiverBreakerOptions {
  /** Consecutive retryable failures (any partition) that open the breaker. */
  threshold: number;
  /** How long it stays open before one probe attempt goes through. */
  halfOpenAfterMs: number;
  /** Called once per change of the receiver's state — down when the breaker opens from closed, up when a probe succeeds — never per attempt. */
  onReceiverChange: (up: boolean, cause?: unknown) => void;
  /** Called on every breaker state change (closed 0, open 1, half-open 2), for the gauge. */
  onState: (state: 0 | 1 | 2) => void;
}

/** Never spin: a wait for the half-open moment is at least this long. */
const MIN_WAIT_MS = 10;

/**
 * One circuit breaker (cockatiel) in front of the receiver, shared by every
 * partition a notifier consumes: after `threshold` consecutive retryable
 * failures it opens, and for `halfOpenAfterMs` no attempt is made at all;
 * then one probe attempt goes through (attempts of other partitions wait
 * for its outcome), and a success closes it while a failure opens it again.
 *
 * While it is open, `run` WAITS (abortably) instead of failing: an attempt
 * refused by an open breaker is not an attempt, so it costs the event none
 * of its HEXFLEET_WEBHOOK_MAX_ATTEMPTS and the batch is not failed — the
 * partition simply stops moving until the receiver is back. Only attempts
 * that reach the receiver count, probes included.
 *
 * Only retryable DeliveryErrors (thrown by the attempt) count as failures;
 * a refusal the receiver answered (4xx) is returned, not thrown, and counts
 * as the receiver being up.
 */
export class ReceiverBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private openedAt = 0;
  private up = true;

  constructor(private readonly options: ReceiverBreakerOptions) {
    this.policy = circuitBreaker(
      handleWhen((err) => err instanceof DeliveryError && err.retry && err.code !== 'stopping'),
      { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.threshold) },
    );
    this.policy.onBreak((reason) => {
      this.openedAt = Date.now();
      if (this.up) {
        this.up = false;
        options.onReceiverChange(false, 'error' in reason ? reason.error : undefined);
      }
    });
    this.policy.onReset(() => {
      if (!this.up) {
        this.up = true;
        options.onReceiverChange(true);
      }
    });
    this.policy.onStateChange((s) => options.onState(s === CircuitState.Open || s === CircuitState.Isolated ? 1 : s === CircuitState.HalfOpen ? 2 : 0));
  }

  /** Whether the last state change said the receiver is reachable. */
  get receiverUp(): boolean {
    return this.up;
  }

  /** Runs `attempt` when the breaker lets it; waits while it is open. Rejects with `stopping` once `signal` aborts. */
  async run<T>(attempt: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (;;) {
      if (signal.aborted) throw deliveryError('stopping');
      try {
        return await this.policy.execute(attempt);
      } catch (err) {
        if (!(err instanceof BrokenCircuitError)) throw err;
      }
      const wait = Math.max(MIN_WAIT_MS, this.openedAt + this.options.halfOpenAfterMs - Date.now() + 1);
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw deliveryError('stopping');
      }
    }
  }
}
