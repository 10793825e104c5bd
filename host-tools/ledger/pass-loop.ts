// What both anchor publishers share (EVM: ./evm/publisher.ts, Fabric:
// ./fabric/publisher.ts): their schedule, one pass at a time, the next `pollMs` after the
// last ended, and `step()` for a pass now that joins the running one instead of racing it
// (tests, drains); and the gauges of how far anchoring is behind.
import { Gauge } from '../ingest/metrics';

export interface PassLoop {
  /** Runs a pass now, or waits for the one running. */
  step(): Promise<void>;
  start(): void;
  /** No pass starts after this; resolves when the running one has ended. */
  stop(): Promise<void>;
}

export function passLoop(pass: () => Promise<void>, pollMs: number): PassLoop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const step = (): Promise<void> => (running ??= pass().finally(() => (running = undefined)));
  return {
    step,
    start() {
      if (timer || stopped) return;
      const tick = () => {
        void step().then(() => {
          if (!stopped) timer = setTimeout(tick, pollMs);
        });
      };
      timer = setTimeout(tick, 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/**
 * deep_anchor_* gauges over a publisher's status. `anchored` says what counts as anchored
 * on this ledger ("anchored with enough confirmations" on a chain that reorganizes).
 */
export function anchorGauges(
  status: () => { batchesBehind: number; secondsBehind: number; lastConfirmed: number },
  stopped: () => boolean,
  anchored: string,
): Gauge[] {
  return [
    new Gauge('deep_anchor_batches_behind', `Closed batches not yet ${anchored}.`, () => status().batchesBehind),
    new Gauge('deep_anchor_lag_seconds', `Age of the oldest batch not yet ${anchored}, s (0: none).`, () => status().secondsBehind),
    new Gauge('deep_anchor_last_confirmed_batch', `Id of the last batch ${anchored}.`, () => status().lastConfirmed),
    new Gauge('deep_anchor_up', '1 while the publisher runs, 0 once stopped by a fatal problem (see logs).', () => (stopped() ? 0 : 1)),
  ];
}
