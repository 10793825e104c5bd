// `deep pair` against the emulator's console and a real ingest node on loopback; the
// password prompt is driven through a pseudo-terminal (python3's pty.fork), so the test
// sees exactly what a rider's terminal shows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { board, deep, firmware, ptyFor, DEEP, ROOT } from './_emu';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { silentLogger } from '../../../host-tools/ingest/log';
import { defaultPython } from '../../../host-tools/sim/transport';
import { pollUntil } from '../../_poll';

const AP = { ssid: 'home-net', password: 'correct-horse-battery' };

// Runs a command with a pseudo-terminal as its controlling terminal; types `PW` + Enter
// when a password prompt shows. Prints everything the terminal showed.
const PTY_RUN = `
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
sent = False
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
    if not sent and b"password" in out:
        os.write(fd, os.environ["PW"].encode() + b"\\r")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
`;

function onTerminal(args: string[], password: string): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve) => {
    const child = spawn(defaultPython(), ['-c', PTY_RUN, process.execPath, DEEP, ...args], { cwd: ROOT, env: { ...process.env, PW: password } });
    let screen = '';
    child.stdout.on('data', (d) => { screen += d; });
    child.stderr.on('data', (d) => { screen += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), 45000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, screen }); });
  });
}

let node: IngestNode;

test.before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-pair-'));
  node = await startIngestNode({ db: path.join(dir, 'ledger.sqlite'), port: 0, host: '127.0.0.1', logger: silentLogger, workers: 1 });
});
test.after(async () => { await node.close(); });

async function nodeDevice(id: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${node.url}/v1/devices/${id}`);
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

test('pairs a bike: password typed without echo, settings on the device, proof registered, id printed; twice changes nothing', async () => {
  const b = await board({ bundle: firmware(), accessPoints: [AP] });
  try {
    const id = b.bike.eval<{ id: string }>('deep.info()').id;
    const r = await onTerminal(['pair', '--port', b.tcp, '--wifi', AP.ssid, '--endpoint', node.url + '/'], AP.password);
    assert.is(r.code, 0, r.screen);
    assert.match(r.screen, /WiFi password for "home-net": /);
    assert.not.ok(r.screen.includes(AP.password), 'the password was echoed');
    assert.match(r.screen, new RegExp(`paired: device id ${id}`));
    const info = b.bike.eval<{ ssid: string; endpoint: string; paired: boolean }>('deep.info()');
    assert.equal([info.ssid, info.endpoint, info.paired], [AP.ssid, node.url, true]);
    const d = await nodeDevice(id);
    assert.is(d.status, 200);
    const pub = b.bike.eval<{ publicKey: string }>('deep.info()').publicKey;
    assert.is(d.json.publicKey, pub);

    // The device joins the WiFi with the password it was given.
    await pollUntil('the device is online on home-net', () => (b.bike.eval<{ online: boolean }>('deep.status()').online ? true : undefined));

    // Second run: says so, asks nothing, changes nothing.
    const again = await deep(['pair', '--port', b.tcp, '--wifi', 'other-net', '--endpoint', 'http://127.0.0.1:9/']);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`device ${id} is already paired \\(endpoint ${node.url.replace(/[.]/g, '\\.')}, WiFi home-net\\); nothing changed\\. Use --force`));
    assert.not.match(again.stderr, /password/);
    const after = b.bike.eval<{ ssid: string; endpoint: string }>('deep.info()');
    assert.equal([after.ssid, after.endpoint], [AP.ssid, node.url]);
  } finally {
    await b.close();
  }
});

test('--force pairs again, through a pseudo-terminal serial port, password from stdin', async () => {
  const b = await board({ bundle: firmware(), accessPoints: [AP], seed: 11 });
  const pty = await ptyFor(b);
  try {
    const first = await deep(['pair', '--port', pty.path, '--wifi', AP.ssid, '--endpoint', node.url, '--password-stdin'], { stdin: AP.password + '\n' });
    assert.is(first.code, 0, first.stderr);
    const id = /paired: device id ([0-9a-f]{16})/.exec(first.stdout)![1];
    const forced = await deep(['pair', '--port', pty.path, '--wifi', AP.ssid, '--endpoint', node.url, '--password-stdin', '--force'], { stdin: AP.password + '\n' });
    assert.is(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, new RegExp(`paired: device id ${id}`));
    assert.match(forced.stderr, /settings written: WiFi "home-net"/);
  } finally {
    pty.close();
    await b.close();
  }
});

test('clear errors: no terminal for the password, bad endpoint, node down, no DEEP firmware', async () => {
  const fw = await board({ bundle: firmware(), accessPoints: [AP], seed: 12 });
  const bare = await board({ seed: 13 });
  try {
    let r = await deep(['pair', '--port', fw.tcp, '--wifi', AP.ssid, '--endpoint', node.url]);
    assert.is(r.code, 2);
    assert.match(r.stderr, /standard input is not a terminal.*--password-stdin/);
    assert.is(fw.bike.eval<{ ssid: string }>('deep.info()').ssid, '');

    r = await deep(['pair', '--port', fw.tcp, '--wifi', AP.ssid, '--endpoint', 'ftp://x', '--password-stdin']);
    assert.is(r.code, 2);
    assert.match(r.stderr, /--endpoint expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/);

    r = await deep(['pair', '--port', fw.tcp, '--wifi', AP.ssid, '--endpoint', 'http://127.0.0.1:9', '--password-stdin'], { stdin: AP.password });
    assert.is(r.code, 3);
    assert.match(r.stderr, /ingest node http:\/\/127\.0\.0\.1:9 unreachable/);
    assert.is(fw.bike.eval<{ paired: boolean }>('deep.info()').paired, false);

    r = await deep(['pair', '--port', bare.tcp, '--wifi', AP.ssid, '--endpoint', node.url, '--password-stdin'], { stdin: AP.password });
    assert.is(r.code, 3);
    assert.match(r.stderr, /does not answer deep\.info\(\).*is the DEEP firmware on it\? \(deep flash\)/);
  } finally {
    await fw.close();
    await bare.close();
  }
});

test.run();
