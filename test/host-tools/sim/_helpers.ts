// Shared by the simulator tests: talk to the simulated VESC over its UART like a driver would.
import { FrameDecoder, encodeFrame } from '../../../protocol/vesc/packet';
import type { SimBike } from '../../../host-tools/sim/index';
import type { SerialIO } from '../../../firmware/hal/io';

export interface Client {
  port: SerialIO;
  /** Sends a request payload, advances up to `maxMs` in 1 ms steps, returns the reply payloads received. */
  request(payload: Uint8Array, maxMs?: number, wantReplies?: number): Uint8Array[];
  /** All raw bytes the device received so far. */
  raw: number[];
}

export function client(bike: SimBike): Client {
  const dec = new FrameDecoder();
  const raw: number[] = [];
  const port = bike.openVescSerial({ baud: 115200 });
  return {
    port,
    raw,
    request(payload, maxMs = 50, wantReplies = 1) {
      const out: Uint8Array[] = [];
      port.write(encodeFrame(payload));
      for (let t = 0; t < maxMs && out.length < wantReplies; t++) {
        bike.advance(1);
        const got = port.read();
        if (!got) continue;
        for (const b of got) raw.push(b);
        dec.feed(got, (p) => out.push(p.slice()));
      }
      return out;
    },
  };
}

/** A ride that only parks, for tests that need a quiet bike. */
export const PARKED = [{ kind: 'park' as const, durationS: 3600 }];
