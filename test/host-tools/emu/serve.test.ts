// The emulated console over TCP, as `deep flash --port tcp://...` and `deep pair` reach it,
// and the real-time clock driver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { VirtualClock } from '../../../host-tools/emu/clock';
import { EmulatedDevice } from '../../../host-tools/emu/device';
import { EmuFlash } from '../../../host-tools/emu/flash';
import { runRealtime, serveConsole } from '../../../host-tools/emu/serve';

function until(sock: net.Socket, re: RegExp, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const t = setTimeout(() => { sock.off('data', on); reject(new Error(`timeout waiting for ${re}; got ${JSON.stringify(got)}`)); }, ms);
    const on = (b: Buffer): void => {
      got += b.toString('latin1');
      if (re.test(got)) { clearTimeout(t); sock.off('data', on); resolve(got); }
    };
    sock.on('data', on);
  });
}

test('console over TCP answers the Espruino CLI prompt and process.env queries; timers run in real time', async () => {
  const clock = new VirtualClock();
  const dev = new EmulatedDevice({ clock, flash: new EmuFlash({ size: 65536 }) });
  dev.install('var n = 0; setInterval(function () { n++; }, 10);');
  dev.powerOn();
  const srv = await serveConsole(dev);
  const stop = runRealtime(clock, 10);
  const sock = net.connect({ host: '127.0.0.1', port: srv.port });
  try {
    await new Promise((r) => sock.once('connect', r));
    sock.write('\n');
    await until(sock, />$/);
    sock.write('\x10print("<","<<",JSON.stringify(process.env),">>",">")\n');
    const out = await until(sock, /< <<.*>> >/);
    const env = JSON.parse(/< << (.*) >> >/.exec(out)![1]);
    assert.is(env.BOARD, 'ESP32');
    assert.ok(env.VERSION);
    await new Promise((r) => setTimeout(r, 200));
    sock.write('n > 10\r');
    await until(sock, /=true/);
  } finally {
    stop();
    sock.destroy();
    await srv.close();
  }
});

test.run();
