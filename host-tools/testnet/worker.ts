// Worker-thread side of the testnet: runs one BikeGroup (group.ts) on command from the
// main thread (testnet.ts), one message at a time: start, advance, power, close.
import { parentPort } from 'node:worker_threads';
import { BikeGroup } from './group';

let group: BikeGroup | undefined;
const port = parentPort!;

port.on('message', (m: { type: string; spec?: ConstructorParameters<typeof BikeGroup>[0]; ms?: number; wallMs?: number; powers?: Record<string, number> }) => {
  const reply = (v: unknown) => port.postMessage({ ok: true, value: v });
  const fail = (e: unknown) => port.postMessage({ ok: false, error: e instanceof Error ? e.stack ?? e.message : String(e) });
  try {
    if (m.type === 'start') {
      group = new BikeGroup(m.spec!);
      group.start().then(reply, fail);
    } else if (m.type === 'advance') {
      group!.advanceTo(m.ms!, m.wallMs!).then(reply, fail);
    } else if (m.type === 'power') {
      group!.setHubPower(m.powers!);
      reply(null);
    } else if (m.type === 'close') {
      group?.close();
      reply(null);
    } else {
      fail(new Error(`unknown message ${m.type}`));
    }
  } catch (e) {
    fail(e);
  }
});
