// SPI1/SPI2: setup(opts), send(data, csPin) -> the same kind as data (binary string,
// number, or a Uint8Array of the device realm), write(...). Bound to a SpiIO (the
// simulated MCP2515); chip select is the SpiIO's business.
import type { SpiIO } from '../../../firmware/hal/io';
import { bytesToBinaryString, bytesView, toBytes } from './bytes';
import type { ToRealm } from './loop';

export function makeSpi(name: string, io: SpiIO | undefined, alive: () => void, u8: ToRealm) {
  return {
    setup(): void { alive(); },
    send(data: unknown, cs?: unknown): unknown {
      alive();
      if (!io) throw new Error(`${name}: nothing wired`);
      void cs;
      // SpiIO.transfer returns fresh bytes and keeps nothing of its input: no copy in.
      const out = io.transfer(bytesView(data));
      if (typeof data === 'string') return bytesToBinaryString(out);
      if (typeof data === 'number') return out[0];
      return u8(out);
    },
    write(...args: unknown[]): void {
      alive();
      if (io) io.transfer(toBytes(args));
    },
  };
}
