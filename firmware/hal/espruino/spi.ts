// SpiIO and the INT pin of the MCP2515 on Espruino: SPI.send(data, cs) holds CS low for
// the whole buffer, one call per transaction (few, large IO calls: the interpreter is slow
// per call, the bus is not).
import { esp, EspSpi } from './api';
import type { DigitalInIO, DigitalInOptions, SpiIO } from '../io';
import type { BoardCanMcp2515 } from './board';

export function mcp2515Spi(can: BoardCanMcp2515): SpiIO {
  var bus = esp.named(can.spi) as EspSpi;
  var cs = esp.named(can.cs);
  esp.digitalWrite(cs, 1);
  // MCP2515: SPI modes 0,0 and 1,1, up to 10 MHz (datasheet §12).
  bus.setup({ sck: esp.named(can.sck), miso: esp.named(can.miso), mosi: esp.named(can.mosi), baud: can.spiBaud || 4000000, mode: 0 });
  var closed = false;
  return {
    transfer: function (bytes: Uint8Array): Uint8Array {
      if (closed) throw new Error('SPI: transfer after close');
      return bus.send(bytes, cs);
    },
    close: function (): void { closed = true; },
  };
}

/** A digital input (active-low interrupt line, button) with an optional falling-edge callback. */
export function digitalIn(pinName: string, options?: DigitalInOptions): DigitalInIO {
  var pin = esp.named(pinName);
  esp.pinMode(pin, 'input_pullup');
  var watch = 0;
  var closed = false;
  if (options && options.onFall) {
    var onFall = options.onFall;
    // setWatch callbacks already run from the event loop, never inside a method of ours.
    watch = esp.setWatch(function () { if (!closed) onFall(); }, pin, { edge: 'falling', repeat: true });
  }
  return {
    read: function (): 0 | 1 {
      if (closed) throw new Error('DigitalIn: read after close');
      return esp.digitalRead(pin) ? 1 : 0;
    },
    close: function (): void {
      if (closed) return;
      closed = true;
      if (watch) esp.clearWatch(watch);
    },
  };
}

/** The status LED (absent on boards with `led: null`). */
export function statusLed(pinName: string | null): { set(on: boolean): void } {
  if (!pinName) return { set: function () { /* no LED on this board */ } };
  var pin = esp.named(pinName);
  return { set: function (on: boolean) { esp.digitalWrite(pin, on ? 1 : 0); } };
}
