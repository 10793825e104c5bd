// The schedule both anchor publishers run on (EVM: ./evm/publisher.ts, Fabric:
// ./fabric/publisher.ts): one pass at a time, the next `pollMs` after the last ended, and
// `step()` for a pass now that joins the running one instead of racing it (tests, drains).

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
