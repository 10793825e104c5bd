// What a meter on the device can achieve from the wire, against the simulator's truth:
// these tests integrate what the buses carry, with the flow rule of README.md, and bound
// the difference to the ledger by the wire's resolution.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimBike, type Segment, type Flow } from '../../../host-tools/sim/index';
import type { CanNode } from '../../../host-tools/sim/canbus';
import { decodeCanFrame, encodeBmsBroadcast } from '../../../protocol/can/messages';
import type { CanFrame } from '../../../protocol/can/id';
import { encodeForwardCan, encodeBmsGetValuesRequest, decodeBmsValues } from '../../../protocol/vesc/commands';
import { encodeFrame, FrameDecoder } from '../../../protocol/vesc/packet';

const DAY: Segment[] = [
  { kind: 'ride', durationS: 150, speedKmh: 24, slopePct: 2, assist: 0.8 },
  { kind: 'brake', durationS: 8, toKmh: 0 },
  { kind: 'ride', durationS: 120, speedKmh: 25, slopePct: -5, assist: 0.8 },
  { kind: 'brake', durationS: 6, toKmh: 0 },
  { kind: 'export', durationS: 120, hub: 'h1', powerW: 350, floorSocPct: 30 },
  { kind: 'charge', durationS: 150, hub: 'h1', currentMa: 5000 },
  { kind: 'plugged', durationS: 20, hub: 'h1' },
  { kind: 'ride', durationS: 100, speedKmh: 20, slopePct: 0, assist: 0.7 },
];

/** The split rule every meter uses (README.md): hub = charge-port voltage present. */
function flowOf(currentMa: number, hub: boolean): Flow {
  if (currentMa > 0) return hub ? 'packToGrid' : 'packToMotor';
  return hub ? 'gridToPack' : 'regenToPack';
}

test('CAN broadcasts (BMS_V_TOT + BMS_I at 10 Hz): per-flow energy within the mV rounding bound of the truth', () => {
  const bike = createSimBike({ seed: 31, ride: DAY, bmsBroadcast: 'energy' });
  const ids = [10, 11];
  const nj = ids.map(() => ({ gridToPack: 0, packToGrid: 0, packToMotor: 0, regenToPack: 0 }) as Record<Flow, number>);
  const boundNj = [0, 0];
  const last: Array<{ vMv: number; hub: boolean } | undefined> = [undefined, undefined];
  const sniffer: CanNode = {
    wantsBroadcasts: () => true,
    onFrame(f: CanFrame) {
      const m = decodeCanFrame(f.id, f.data);
      assert.ok(m.ok, 'every frame on the bus decodes');
      if (!m.ok) return;
      const p = ids.indexOf(m.value.controllerId);
      if (m.value.type === 'BMS_V_TOT' && p >= 0) last[p] = { vMv: m.value.vTotMv, hub: m.value.vChargeMv > 1000 };
      if (m.value.type === 'BMS_I' && p >= 0 && last[p]) {
        const i = m.value.iInMa;
        const s = last[p] as { vMv: number; hub: boolean };
        // one sample per 100 ms model step: mV × mA × ms = nJ
        nj[p][flowOf(i, s.hub)] += Math.abs(s.vMv * i * 100);
        boundNj[p] += 0.5 * Math.abs(i) * 100;
      }
    },
  };
  bike.internals.bus.attach(sniffer);
  const total = DAY.reduce((t, s) => t + s.durationS, 0);
  bike.advance(total * 1000); // a multiple of the step: every sample belongs to a committed step
  const l = bike.ledger();
  for (let p = 0; p < 2; p++) {
    for (const f of Object.keys(nj[p]) as Flow[]) {
      const truthNj = Number(l.packs[p].flows[f].pj) / 1000;
      const err = Math.abs(nj[p][f] - truthNj);
      assert.ok(err <= boundNj[p] + 1, `pack ${p} ${f}: meter ${nj[p][f]} nJ, truth ${truthNj} nJ, bound ${boundNj[p]}`);
    }
    const moved = Object.values(nj[p]).reduce((a, b) => a + b, 0);
    assert.ok(moved > 0, `pack ${p} moved energy`);
  }
  // every flow happened somewhere
  for (const f of ['gridToPack', 'packToGrid', 'packToMotor', 'regenToPack'] as Flow[]) {
    assert.ok(l.packs[0].flows[f].pj + l.packs[1].flows[f].pj > 0n, f);
  }
});

test('BMS_GET_VALUES through FORWARD_CAN, polled once per step: µV × µA reproduce the ledger to the pJ', () => {
  const ride: Segment[] = [
    { kind: 'ride', durationS: 25, speedKmh: 22, slopePct: 3, assist: 0.8 },
    { kind: 'brake', durationS: 5, toKmh: 0 },
    { kind: 'ride', durationS: 10, speedKmh: 25, slopePct: -6, assist: 0.8 },
    { kind: 'charge', durationS: 10, hub: 'h', currentMa: 3000 },
    { kind: 'export', durationS: 10, hub: 'h', powerW: 300 },
  ];
  const bike = createSimBike({ seed: 32, ride, bmsRateHz: 0 });
  const port = bike.openVescSerial({ baud: 115200 });
  const dec = new FrameDecoder();
  const pj = [0n, 0n];
  const perFlow: Array<Record<Flow, bigint>> = [0, 1].map(() => ({ gridToPack: 0n, packToGrid: 0n, packToMotor: 0n, regenToPack: 0n }));
  const steps = 60 * 10;
  for (let k = 0; k < steps; k++) {
    for (const [p, id] of [[0, 10], [1, 11]]) {
      port.write(encodeFrame(encodeForwardCan(id, encodeBmsGetValuesRequest())));
      let got: Uint8Array | undefined;
      for (let t = 0; t < 40 && !got; t++) {
        bike.advance(1);
        const b = port.read();
        if (b) dec.feed(b, (x) => (got = x.slice()));
      }
      assert.ok(got, `reply at step ${k}`);
      const v = decodeBmsValues(got as Uint8Array);
      assert.ok(v.ok);
      if (!v.ok) return;
      const e = (BigInt(v.value.vTotUv) * BigInt(v.value.iInUa) * 100n) / 1000n; // µV·µA·ms/1000 = pJ
      const f = flowOf(v.value.iInUa, v.value.vChargeUv > 1_000_000);
      perFlow[p][f] += e < 0n ? -e : e;
      pj[p] += e;
    }
    bike.advance((k + 1) * 100 - bike.nowMs()); // on to the next step boundary
  }
  assert.is(bike.nowMs(), steps * 100);
  const l = bike.ledger();
  for (let p = 0; p < 2; p++) {
    for (const f of Object.keys(perFlow[p]) as Flow[]) assert.is(perFlow[p][f], l.packs[p].flows[f].pj, `pack ${p} ${f}`);
  }
});

test('a BMS broadcast is exactly protocol/can encodeBmsBroadcast of its values (the frame cache changes nothing)', () => {
  const bike = createSimBike({ seed: 33, ride: DAY });
  for (let k = 0; k < 40; k++) {
    bike.advance(k < 20 ? 100 : 60_000);
    for (const b of bike.internals.bms) {
      const v = b.values();
      const pack = bike.internals.model.packs[bike.internals.bms.indexOf(b)];
      const want = encodeBmsBroadcast(b.canId, {
        vTotMv: Math.round(v.vTotUv / 1000), vChargeMv: Math.round(v.vChargeUv / 1000), iInMa: pack.currentMa, iInIcMa: pack.currentMa,
        ahCntMah: v.ahCntMah, whCntMwh: v.whCntMwh, cellsMv: v.cellsMv, balancing: v.balancing, tempsCentiC: v.tempsCentiC,
        tempHumCentiC: v.tempHumCentiC, humCentiPct: v.humCentiPct, tempIcCentiC: v.tempIcCentiC, pressurePa: v.pressurePa,
        vCellMinMv: Math.min(...v.cellsMv), vCellMaxMv: Math.max(...v.cellsMv), socByte: Math.round(pack.soc() * 255),
        sohByte: Math.round(0.97 * 255), tempCellMaxC: Math.round(v.tempMaxCellCentiC / 100), charging: b.charging(),
        balancingActive: false, chargeAllowed: pack.soc() < 1, chargeOk: bike.internals.model.atHub(), dataVersion: 0,
        ahChgTotalMah: v.ahChgTotalMah as number, whChgTotalMwh: v.whChgTotalMwh as number,
        ahDisTotalMah: v.ahDisTotalMah as number, whDisTotalMwh: v.whDisTotalMwh as number,
      });
      const got = b.broadcastFrames();
      assert.equal(got.map((f) => [f.id, Array.from(f.data)]), want.map((f) => [f.id, Array.from(f.data)]));
    }
  }
});

test.run();
