// #/pair: pair a bike from the browser over Web Serial, with the same code as `deep pair`
// (host-tools/pairing): WiFi settings and endpoint onto the device, a challenge from this
// node, the device's proof (progress shown while it signs), the registration. Each failure
// says what went wrong: no port chosen, wrong firmware, node unreachable, proof refused.
import { DeviceConsole, PortError } from '../../pairing/console';
import { httpPairingNode, pairDevice, PairingError, PAIR_STEPS, type PairStep } from '../../pairing/pair';
import { card, h, put } from './dom';
import { openWebSerial, webSerial } from './serial';
import { rememberBike } from './bike';

const STEP_TEXT: Record<PairStep, string> = {
  device: 'Ask the bike who it is (DEEP firmware, id)',
  settings: 'Write the WiFi network and this node’s address to the bike',
  challenge: 'Get a one-time challenge from the node',
  signing: 'The bike signs the challenge with its own key',
  register: 'The node checks the proof and registers the key',
  record: 'The bike records that it is paired',
};

export type Failure = 'no-port' | 'wrong-firmware' | 'node-unreachable' | 'proof-refused' | 'other';

/** Which of the page's failures an error is, and the words to show for it. */
export function failureOf(e: unknown, step: PairStep | undefined): { kind: Failure; title: string } {
  if (e instanceof PortError && e.kind === 'missing') return { kind: 'no-port', title: 'No port chosen' };
  if (e instanceof PortError && e.kind === 'not-espruino') return { kind: 'wrong-firmware', title: 'Wrong firmware: no Espruino console on this port' };
  if (step === 'device' && !(e instanceof PortError)) return { kind: 'wrong-firmware', title: 'Wrong firmware: Espruino answers, but not the DEEP firmware' };
  if (e instanceof PairingError && e.exit === 'io') return { kind: 'node-unreachable', title: 'Node unreachable' };
  if (e instanceof PairingError && step === 'register') return { kind: 'proof-refused', title: 'Proof refused by the node' };
  return { kind: 'other', title: 'Pairing failed' };
}

function cliHint(origin: string): HTMLElement {
  return h('pre', { 'data-cli': '' }, `npx deep pair --port /dev/ttyUSB0 --wifi "YOUR WIFI" --endpoint ${origin}`);
}

export function pairPage(root: HTMLElement): () => void {
  const serial = webSerial();
  const origin = location.origin;
  if (!serial) {
    put(root, h('h1', null, 'Pair a bike'), h('div', { class: 'cards' }, card('This browser has no Web Serial',
      h('p', { 'data-failure': 'no-web-serial' }, 'Pairing over USB from a web page needs Web Serial: Chrome or Edge, on a computer or on Android. Open this page there, or pair from a computer with the DEEP tools:'),
      cliHint(origin),
      h('p', { class: 'muted' }, 'Use the bike’s port (COM3 on Windows, /dev/tty.usbserial-… on a Mac). The command asks for the WiFi password without showing it.'))));
    return () => {};
  }
  const ssid = h('input', { name: 'ssid', required: true, maxlength: 32, autocomplete: 'off' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password' });
  const endpoint = h('input', { name: 'endpoint', value: origin, required: true });
  const force = h('input', { name: 'force', type: 'checkbox' });
  const button = h('button', { type: 'submit' }, 'Choose the bike’s port and pair');
  const steps = h('ol', { class: 'steps' }, PAIR_STEPS.map((s) => h('li', { 'data-step': s }, STEP_TEXT[s])));
  const result = h('div', { 'aria-live': 'polite' });
  let busy = false;
  let gone = false;

  function mark(now: PairStep | undefined, failed = false): void {
    // No step (the port was never opened) marks nothing; undefined after success marks all.
    const at = now ? PAIR_STEPS.indexOf(now) : failed ? -1 : PAIR_STEPS.length;
    steps.querySelectorAll('li').forEach((li, i) => {
      li.className = i < at ? 'done' : i === at ? (failed ? 'failed' : 'now') : '';
    });
  }

  async function pair(): Promise<void> {
    if (busy) return;
    const pw = password.value;
    if (pw.length > 0 && (pw.length < 8 || pw.length > 63)) {
      put(result, h('div', { class: 'error', 'data-failure': 'bad-input' }, `A WPA2 password has 8 to 63 characters, this one has ${pw.length}.`));
      return;
    }
    let url: URL;
    try {
      url = new URL(endpoint.value);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    } catch {
      put(result, h('div', { class: 'error', 'data-failure': 'bad-input' }, `The node address must be an http:// or https:// URL, got "${endpoint.value}".`));
      return;
    }
    busy = true;
    button.disabled = true;
    put(result);
    steps.querySelectorAll('li').forEach((li) => { li.className = ''; });
    let step: PairStep | undefined;
    let link;
    try {
      link = await openWebSerial(serial!);
      const c = new DeviceConsole(link);
      step = 'device';
      mark(step);
      await c.identify();
      const r = await pairDevice({
        console: c,
        // This page's own node answers the challenge and takes the proof (same origin);
        // the bike is told `endpoint`, which may be the node's address on the bike's network.
        node: httpPairingNode(origin),
        ssid: ssid.value,
        endpoint: url.href.replace(/\/$/, ''),
        force: force.checked,
        signTimeoutMs: 60_000,
        wait: (ms) => new Promise((ok) => setTimeout(ok, ms)),
        password: async () => pw,
        progress: (s, waited) => {
          step = s;
          mark(s);
          if (s === 'signing' && waited) steps.querySelector('li[data-step="signing"]')!.textContent = `${STEP_TEXT.signing} (${(waited / 1000).toFixed(1)} s)`;
        },
      });
      mark(undefined);
      const id = r.status === 'paired' ? r.id : r.info.id;
      rememberBike(id);
      put(result, h('div', { class: 'note', 'data-paired': id },
        r.status === 'paired' ? 'Paired: device id ' : 'Already paired (nothing changed; tick “pair again” to redo it): device id ',
        h('code', null, id), '. ', h('a', { href: `#/bike/${id}` }, 'See this bike')));
    } catch (e) {
      if (gone) return;
      const f = failureOf(e, step);
      mark(step, true);
      put(result, h('div', { class: 'error', role: 'alert', 'data-failure': f.kind }, h('strong', null, f.title + ': '), (e as Error).message),
        f.kind === 'no-port' || f.kind === 'wrong-firmware' ? h('p', { class: 'muted' }, 'A bike without the DEEP firmware is flashed from a computer: npx deep flash --port PORT. Pairing from the command line works too:') : null,
        f.kind === 'no-port' || f.kind === 'wrong-firmware' ? cliHint(origin) : null);
    } finally {
      await link?.close();
      busy = false;
      button.disabled = false;
    }
  }

  put(root, h('h1', null, 'Pair a bike'), h('div', { class: 'cards' },
    card('Settings for the bike',
      h('form', { class: 'stack', onsubmit: (e: Event) => { e.preventDefault(); void pair(); } },
        h('label', null, 'WiFi network (SSID) the bike joins', ssid),
        h('label', null, 'WiFi password (sent only to the bike)', password),
        h('label', null, 'Address of this ledger node, as the bike will reach it', endpoint),
        h('label', { style: 'display:flex;gap:.5rem;align-items:center' }, force, 'pair again if the bike is already paired'),
        button)),
    card('Steps', steps, result)));
  return () => { gone = true; };
}
