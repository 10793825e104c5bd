// Engine cases for the bus codecs (protocol/vesc, protocol/can) and the VESC/CAN drivers:
// fixed inputs, outputs printed as hex or JSON of integers, compared across Duktape, Node
// and the host (test/engine/engine.test.ts). No float is printed.
import { addCase } from '../registry';
import { crc16 } from '../../../protocol/vesc/crc16';
import { encodeFrame, FrameDecoder } from '../../../protocol/vesc/packet';
import * as C from '../../../protocol/vesc/commands';
import { decodeCanFrame, encodeCanMessage, encodeBmsBroadcast } from '../../../protocol/can/messages';
import { encodeCanBuffer, CanBufferRx } from '../../../protocol/can/buffer';
import { composeId } from '../../../protocol/can/id';
import { copyBytes, fromHex, latin1ToBytes, toHex } from '../../../protocol/bytes';
import { idToRegs, regsToId } from '../../../firmware/drivers/mcp2515';
import { VescUart } from '../../../firmware/drivers/vesc-uart';
import { DualBms } from '../../../firmware/drivers/dual-bms';
import type { SerialOptions } from '../../../firmware/hal/io';

function bmsValues(): C.BmsValues {
  return {
    variant: 'vesc', vTotUv: 50123456, vChargeUv: 0, iInUa: -1234567, iInIcUa: 7, ahCntMah: 1234, whCntMwh: 56789,
    cellsMv: [3850, 3851, 3852], balancing: [0, 1, 0], tempsCentiC: [2510, -150], tempIcCentiC: 3000, tempHumCentiC: 2500,
    humCentiPct: 4500, tempMaxCellCentiC: 2800, socPermille: 800, sohPermille: 990, canId: 10, ahChgTotalMah: 100001,
    whChgTotalMwh: 5000003, ahDisTotalMah: -90000, whDisTotalMwh: 4499999, pressurePa: 101320, dataVersion: 1, status: 'OK',
  };
}

addCase('vesc.crc16', function () {
  var b = latin1ToBytes('123456789');
  var big = new Uint8Array(600);
  for (var k = 0; k < big.length; k++) big[k] = (k * 31 + 7) & 255;
  return crc16(b).toString(16) + ' ' + crc16(big).toString(16);
});

addCase('vesc.frames', function () {
  var long = new Uint8Array(300);
  for (var i = 0; i < long.length; i++) long[i] = i & 255;
  return toHex(encodeFrame(C.encodeGetValuesRequest())) + ' ' + toHex(encodeFrame(C.encodeAlive())) + ' ' + toHex(encodeFrame(long).subarray(0, 5)) + ' ' + toHex(encodeFrame(long).subarray(303));
});

addCase('vesc.decoder', function () {
  // frames behind garbage, a corrupted copy and a bogus header, fed in 1..7-byte chunks
  var good = encodeFrame(C.encodeValues({ vInMv: 48200, wattHoursUwh: 12345600 }, C.VALUE_BIT.V_IN | C.VALUE_BIT.WATT_HOURS));
  var bad = copyBytes(good);
  bad[6] ^= 0x10;
  var parts = [fromHex('ff0302'), bad, good, fromHex('02000203'), good, fromHex('02c8'), encodeFrame(C.encodeAlive())];
  var n = 0, i, k;
  for (i = 0; i < parts.length; i++) n += parts[i].length;
  var stream = new Uint8Array(n);
  for (i = 0, k = 0; i < parts.length; k += parts[i].length, i++) stream.set(parts[i], k);
  var dec = new FrameDecoder();
  var got: string[] = [];
  var sink = function (p: Uint8Array) { got.push(toHex(p)); };
  for (var at = 0, step = 1; at < stream.length; at += step, step = (step % 7) + 1) dec.feed(stream, sink, at, Math.min(stream.length, at + step));
  dec.flush(sink);
  var st = dec.stats;
  return got.join(',') + ' ' + [st.frames, st.garbage, st.badLength, st.badEnd, st.badCrc, st.flushed].join('/');
});

addCase('vesc.values', function () {
  var v = {
    tempFetDeciC: 315, tempMotorDeciC: -52, motorCurrentMa: -290, inputCurrentMa: 150010, idMa: 10, iqMa: -20, dutyPermille: -999,
    erpm: -123456, vInMv: 50400, ampHoursUah: 12345600, ampHoursChargedUah: 100, wattHoursUwh: 2147483600, wattHoursChargedUwh: 0,
    tachometer: -5, tachometerAbs: 5, fault: 4, pidPosMicroDeg: 359999999, controllerId: 9, tempMos1DeciC: 300, tempMos2DeciC: 301,
    tempMos3DeciC: 302, vdMv: -12345, vqMv: 23456, status: 3,
  };
  var full = C.encodeValues(v);
  var d = C.decodeValues(full);
  var sel = C.decodeValues(C.encodeValues(v, 0x8002a08));
  var e = C.decodeValues(full.subarray(0, 40));
  return toHex(full) + ' ' + JSON.stringify(d.ok ? d.value : 0) + ' ' + JSON.stringify(sel.ok ? sel.value : 0) + ' ' + (e.ok ? 'ok' : e.error.code + '@' + e.error.offset + ':' + e.error.field);
});

addCase('vesc.bms', function () {
  var v = bmsValues();
  var vesc = C.encodeBmsValues(v);
  var bms = C.encodeBmsValues(v, 'bms');
  var a = C.decodeBmsValues(vesc), b = C.decodeBmsValues(bms);
  var nan = copyBytes(bms);
  nan.set([0x7f, 0xc0, 0, 0], bms.length - 18);
  var c = C.decodeBmsValues(nan);
  return toHex(vesc) + ' ' + JSON.stringify(a.ok ? a.value : 0) + ' ' + (b.ok ? b.value.variant + b.value.whDisTotalMwh : 'x') + ' ' + (c.ok ? 'ok' : c.error.code + ':' + c.error.field);
});

addCase('vesc.fw_forward_ping', function () {
  var fw = C.encodeFwVersion({ major: 6, minor: 5, hwName: '60', uuid: '000102030405060708090a0b', pairingDone: 0, testVersion: 0, hwType: 0, customConfigCount: 1, hasPhaseFilters: 0, qmlHw: 0, qmlApp: 0, nrfFlags: 0, fwName: 'no_hw_limits', hwCrc: 4294967295 });
  var d = C.decodeFwVersion(fw);
  var f = C.decodeForwardCan(C.encodeForwardCan(11, C.encodeBmsGetValuesRequest()));
  var p = C.decodePingCanReply(C.encodePingCanReply([10, 11, 104]));
  return toHex(fw) + ' ' + JSON.stringify(d.ok ? d.value : 0) + ' ' + (f.ok ? f.value.canId + ':' + toHex(f.value.inner) : 'x') + ' ' + JSON.stringify(p.ok ? p.value : 0);
});

addCase('can.messages', function () {
  var out: string[] = [];
  var frames = encodeBmsBroadcast(10, {
    vTotMv: 50123, vChargeMv: 0, iInMa: -3300, iInIcMa: 2, ahCntMah: 123456, whCntMwh: -5000001, cellsMv: [3800, 3801, 3802, 3803],
    balancing: [1, 0, 0, 1], tempsCentiC: [2000, -2100], tempHumCentiC: 1, humCentiPct: 2, tempIcCentiC: 3, pressurePa: 101320,
    vCellMinMv: 3800, vCellMaxMv: 3803, socByte: 204, sohByte: 252, tempCellMaxC: -5, charging: true, balancingActive: false,
    chargeAllowed: true, chargeOk: false, dataVersion: 3, ahChgTotalMah: 7000, whChgTotalMwh: 350001, ahDisTotalMah: 6000, whDisTotalMwh: 299999,
  });
  for (var i = 0; i < frames.length; i++) {
    var d = decodeCanFrame(frames[i].id, frames[i].data);
    out.push(frames[i].id.toString(16) + ':' + toHex(frames[i].data) + '=' + JSON.stringify(d.ok ? d.value : d.error.code));
  }
  var st = encodeCanMessage({ type: 'STATUS_4', controllerId: 5, tempFetDeciC: 315, tempMotorDeciC: -52, currentInMa: -15000, pidPosCentiDeg: 100 });
  out.push(toHex(st.data));
  var odd = decodeCanFrame(composeId(38, 10), fromHex('c053333300000001'));
  out.push(JSON.stringify(odd.ok ? odd.value : 0));
  return out.join(' ');
});

addCase('can.buffer', function () {
  var p = new Uint8Array(300);
  for (var i = 0; i < p.length; i++) p[i] = (i * 13) & 255;
  var frames = encodeCanBuffer(2, 10, p, 1);
  var rx = new CanBufferRx();
  var res: string[] = [];
  function feed(list: { id: number; data: Uint8Array }[]) {
    for (var j = 0; j < list.length; j++) {
      var r = rx.accept(list[j].id >> 8, list[j].data);
      if (r) res.push(r.ok ? r.value.senderId + ':' + r.value.payload.length + ':' + crc16(r.value.payload).toString(16) : r.error.code);
    }
  }
  feed(frames);
  feed(frames.slice(0, 10).concat(frames.slice(11)));
  var doubled: { id: number; data: Uint8Array }[] = [];
  for (var k = 0; k < frames.length; k++) { doubled.push(frames[k]); if (k % 4 === 0) doubled.push(frames[k]); }
  feed(doubled);
  return frames.length + ' ' + toHex(frames[frames.length - 1].data) + ' ' + res.join(',') + ' ' + JSON.stringify(rx.stats);
});

addCase('mcp2515.idregs', function () {
  var b = new Uint8Array(8);
  idToRegs(0x260a, true, b, 0);
  idToRegs(0x7ff, false, b, 4);
  var r1 = regsToId(b, 0), r2 = regsToId(b, 4);
  idToRegs(0x1fffffff, true, b, 0);
  return toHex(b) + ' ' + r1.id.toString(16) + r1.ext + ' ' + r2.id.toString(16) + r2.ext + ' ' + regsToId(b, 0).id.toString(16);
});

addCase('drivers.vesc_dualbms', function () {
  // VescUart and DualBms (source 'vesc') against a scripted VESC, on hand-driven timers
  var now = 0;
  var queue: { at: number; id: number; fn: () => void }[] = [];
  var seq = 1;
  var timers = {
    now: function () { return now; },
    setTimeout: function (fn: () => void, ms: number) { queue.push({ at: now + ms, id: seq, fn: fn }); return seq++; },
    clearTimeout: function (id: number) { for (var i = 0; i < queue.length; i++) if (queue[i].id === id) { queue.splice(i, 1); return; } },
  };
  function run(until: number) {
    for (;;) {
      var best = -1;
      for (var i = 0; i < queue.length; i++) if (queue[i].at <= until && (best < 0 || queue[i].at < queue[best].at || (queue[i].at === queue[best].at && queue[i].id < queue[best].id))) best = i;
      if (best < 0) break;
      var e = queue.splice(best, 1)[0];
      if (e.at > now) now = e.at;
      e.fn();
    }
    now = until;
  }
  var inbox: Uint8Array[] = [];
  var opts: SerialOptions | undefined;
  var vescDec = new FrameDecoder();
  var wh = 0;
  function answer(p: Uint8Array): Uint8Array | undefined {
    if (p[0] === 0) return C.encodeFwVersion({ major: 6, minor: 5, hwName: '60', uuid: '000000000000000000000000' });
    if (p[0] === 50) { wh += 1000; return C.encodeValues({ vInMv: 48200, wattHoursUwh: wh, inputCurrentMa: 5230 }, C.decodeGetValuesRequest(p).ok ? (C.decodeGetValuesRequest(p) as { value: { mask: number } }).value.mask : 0); }
    if (p[0] === 34 && p[1] === 10) { var v = bmsValues(); v.variant = 'bms'; return C.encodeBmsValues(v); }
    return undefined;
  }
  function Serial(this: unknown, o: SerialOptions) { opts = o; }
  Serial.prototype.read = function () { return inbox.shift(); };
  Serial.prototype.write = function (b: Uint8Array) {
    vescDec.feed(b, function (p) {
      var r = answer(copyBytes(p));
      if (!r) return;
      var f = encodeFrame(r);
      // the reply arrives in 5-byte pieces, 1 ms apart
      for (var i = 0; i < f.length; i += 5) {
        (function (piece: Uint8Array, d: number) {
          timers.setTimeout(function () { inbox.push(piece); if (opts && opts.onReadable) opts.onReadable(piece.length); }, 2 + d);
        })(copyBytes(f, i, Math.min(f.length, i + 5)), i / 5);
      }
    });
  };
  Serial.prototype.close = function () {};
  var samples: number[] = [];
  var faults: string[] = [];
  var uart = new VescUart({ io: Serial as never, timers: timers, onSample: function (s) { samples.push(s.wattHoursUwh as number); }, onFault: function (c) { faults.push(c); } });
  var bms = new DualBms({ packIds: [10, 11], source: 'vesc', vesc: uart, timers: timers, pollMs: 500, staleMs: 1500, onFault: function (c, d) { faults.push(c + ' ' + d); } });
  run(3000);
  uart.close();
  bms.close();
  var p0 = bms.packs[0];
  return (uart.identification ? uart.identification.major + '.' + uart.identification.minor : 'none') + ' ' + samples.length + ' ' + samples[samples.length - 1] +
    ' ' + p0.vTotMv + ' ' + p0.iInMa + ' ' + p0.whDisTotalMwh + ' ' + bms.packs[1].stale + ' ' + faults.length + ' ' + faults[faults.length - 1];
});
