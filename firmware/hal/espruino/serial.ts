// SerialIO (firmware/hal/io.ts, ECMA-419 style) on an Espruino UART. Espruino delivers
// received bytes as binary strings in 'data' events; they are kept until read() and
// announced to onReadable from a 0 ms timer, never from inside a method.
import { esp, EspSerial } from './api';
import type { SerialClass, SerialIO, SerialOptions } from '../io';
import type { Board } from './board';

/** The SerialIO class of the board's VESC UART (pins, or a device path on Linux). */
export function vescSerialClass(board: Board): SerialClass {
  var v = board.vesc;
  var port = esp.named(v.uart) as EspSerial;
  var setup: { rx?: unknown; tx?: unknown; path?: string } = v.path ? { path: v.path } : { rx: esp.named(v.rx as string), tx: esp.named(v.tx as string) };
  function EspruinoSerial(this: SerialState, options: SerialOptions) {
    if (!options || typeof options.baud !== 'number' || options.baud <= 0) throw new Error('Serial: "baud" expected a positive number');
    if (options.onReadable !== undefined && typeof options.onReadable !== 'function') throw new Error('Serial: "onReadable" expected a function');
    var self = this;
    self.parts = [];
    self.count = 0;
    self.closed = false;
    self.scheduled = false;
    self.onReadable = options.onReadable;
    port.setup(options.baud, setup);
    port.on('data', function (d: string) {
      if (self.closed) return;
      self.parts.push(d);
      self.count += d.length;
      if (self.onReadable && !self.scheduled) {
        self.scheduled = true;
        esp.setTimeout(function () {
          self.scheduled = false;
          if (!self.closed && self.count > 0 && self.onReadable) self.onReadable(self.count);
        }, 0);
      }
    });
  }
  EspruinoSerial.prototype.read = function (this: SerialState): Uint8Array | undefined {
    if (this.closed) throw new Error('Serial: read after close');
    if (this.count === 0) return undefined;
    var s = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
    this.parts = [];
    this.count = 0;
    return esp.E().toUint8Array(s);
  };
  EspruinoSerial.prototype.write = function (this: SerialState, bytes: Uint8Array): void {
    if (this.closed) throw new Error('Serial: write after close');
    port.write(bytes);
  };
  EspruinoSerial.prototype.close = function (this: SerialState): void {
    if (this.closed) return;
    this.closed = true;
    port.removeAllListeners('data');
  };
  return EspruinoSerial as unknown as SerialClass;
}

interface SerialState extends SerialIO {
  parts: string[];
  count: number;
  closed: boolean;
  scheduled: boolean;
  onReadable: ((count: number) => void) | undefined;
}
