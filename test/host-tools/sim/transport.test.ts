import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createSimBike } from '../../../host-tools/sim/index';
import { serveTcp, servePty, runRealtime, defaultPython, openPtyRelay } from '../../../host-tools/sim/transport';
import { encodeFrame, FrameDecoder } from '../../../protocol/vesc/packet';
import { encodeFwVersionRequest, decodeFwVersion, encodeForwardCan, encodeBmsGetValuesRequest, decodeBmsValues } from '../../../protocol/vesc/commands';
import { PARKED } from './_helpers';

function collect(dec: FrameDecoder, out: Uint8Array[]) {
  return (d: Uint8Array): void => dec.feed(d, (p) => out.push(p.slice()));
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

test('TCP endpoint: a client asks FW_VERSION and a forwarded BMS_GET_VALUES; a second client is refused', async () => {
  const bike = createSimBike({ seed: 1, ride: PARKED });
  const ep = await serveTcp(bike, 0);
  const rt = runRealtime(bike);
  try {
    assert.match(ep.where, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const replies: Uint8Array[] = [];
    const sock = net.connect(ep.port, '127.0.0.1');
    sock.on('data', collect(new FrameDecoder(), replies));
    await new Promise((r) => sock.once('connect', r));
    sock.write(encodeFrame(encodeFwVersionRequest()));
    sock.write(encodeFrame(encodeForwardCan(11, encodeBmsGetValuesRequest())));
    await until(() => replies.length >= 2, 3000);
    assert.is(replies.length, 2);
    const fw = decodeFwVersion(replies[0]);
    assert.ok(fw.ok && fw.value.major === 6);
    const b = decodeBmsValues(replies[1]);
    assert.ok(b.ok && b.value.canId === 11);
    let busyText = '';
    const second = net.connect(ep.port, '127.0.0.1');
    second.on('data', (d) => (busyText += d.toString()));
    await new Promise((r) => second.once('close', r));
    assert.match(busyText, /busy/);
    sock.destroy();
  } finally {
    rt.stop();
    await ep.close();
  }
});

const hasPython = spawnSync(defaultPython(), ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

test('pseudo-terminal endpoint: a serial client opens the slave path and talks VESC', async () => {
  if (!hasPython) {
    // python3 is part of the CI image; without it --pty cannot work and says so
    const bike = createSimBike({ seed: 2, ride: PARKED });
    let msg = '';
    await servePty(bike).catch((e: Error) => (msg = e.message));
    assert.match(msg, /python3/);
    return;
  }
  const bike = createSimBike({ seed: 2, ride: PARKED });
  const ep = await servePty(bike);
  const rt = runRealtime(bike);
  try {
    assert.match(ep.path, /^\/dev\/pts\/\d+$/);
    const fd = fs.openSync(ep.path, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
    const replies: Uint8Array[] = [];
    const feed = collect(new FrameDecoder(), replies);
    fs.writeSync(fd, encodeFrame(encodeFwVersionRequest()));
    const buf = Buffer.alloc(256);
    const end = Date.now() + 3000;
    while (replies.length === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n > 0) feed(new Uint8Array(buf.subarray(0, n)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
    }
    fs.closeSync(fd);
    assert.is(replies.length, 1);
    const fw = decodeFwVersion(replies[0]);
    assert.ok(fw.ok && fw.value.minor === 5);
  } finally {
    rt.stop();
    await ep.close();
  }
});

test('the pty relay runs the interpreter DEEP_PYTHON names, and says which one failed', async () => {
  const saved = process.env.DEEP_PYTHON;
  process.env.DEEP_PYTHON = '/nonexistent/deep-python';
  try {
    assert.is(defaultPython(), '/nonexistent/deep-python');
    let msg = '';
    await openPtyRelay().then(
      (r) => r.close(),
      (e: Error) => { msg = e.message; },
    );
    assert.match(msg, /cannot start \/nonexistent\/deep-python for the pseudo-terminal/);
  } finally {
    if (saved === undefined) delete process.env.DEEP_PYTHON;
    else process.env.DEEP_PYTHON = saved;
  }
});

test.run();
