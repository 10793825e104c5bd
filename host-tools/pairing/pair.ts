// What `deep flash`, `deep pair` and the testnet ask the DEEP firmware over its console.
// Every call is one JavaScript expression evaluated on the device (DeviceConsole.eval),
// whose value comes back as JSON. These are the firmware's pairing-console commands
// (issue 4, "Pairing console"); this file is the one place the host side names them:
//
//   deep.info()             -> { version, id, publicKey, ssid, endpoint, paired, ... }
//   deep.settings({ssid, password, endpoint}) -> true (persisted in flash)
//   deep.pairingProof(hex)  -> the proof over the node's challenge (base64 COSE_Sign1);
//                              a device whose signer is stepped may answer null and
//   deep.pairingProof()     -> then give the proof once it is done (null before)
//   deep.paired(id)         -> true; records that the node registered this device
//   deep.status()           -> { online, queued, seq, synced, uptimeS, boots, faults }
//
// The pairing procedure itself (pairDevice) is shared by `deep pair`, the testnet (so the
// main job pairs every emulated bike exactly the way a rider pairs a real one) and the web
// app's pairing page over Web Serial. No Node APIs here: the web app bundles this file.
import { DeviceConsole } from './console';
import { fromHex } from '../../protocol/bytes';

export interface DeviceInfo {
  /** Firmware version text, e.g. "0.1.0". */
  version: string;
  /** Device id: the key id (COSE kid) in lower-case hex. */
  id: string;
  /** Raw Ed25519 public key, hex. */
  publicKey: string;
  /** WiFi SSID and ingest endpoint from the device's settings ('' when unset). */
  ssid: string;
  endpoint: string;
  /** True once a pairing was recorded on the device. */
  paired: boolean;
  /** The board file the bundle was built for (boards/NAME.json), when the firmware says. */
  board?: string;
}

/** Expressions of the device console contract. */
export const DEVICE_EXPR = {
  info: 'deep.info()',
  settings: (s: { ssid: string; password: string; endpoint: string }) => `deep.settings(${JSON.stringify(s)})`,
  proof: (challengeHex?: string) => (challengeHex === undefined ? 'deep.pairingProof()' : `deep.pairingProof(${JSON.stringify(challengeHex)})`),
  paired: (deviceId: string) => `deep.paired(${JSON.stringify(deviceId)})`,
  status: 'deep.status()',
};

function checkInfo(v: unknown): DeviceInfo {
  const i = v as Partial<DeviceInfo> | undefined;
  if (!i || typeof i.version !== 'string' || typeof i.id !== 'string' || typeof i.publicKey !== 'string') {
    throw new Error(`the device's ${DEVICE_EXPR.info} answered ${JSON.stringify(v)?.slice(0, 200)}: is the DEEP firmware on it? (deep flash)`);
  }
  return { version: i.version, id: i.id, publicKey: i.publicKey, ssid: i.ssid ?? '', endpoint: i.endpoint ?? '', paired: i.paired === true, board: typeof i.board === 'string' ? i.board : undefined };
}

export async function deviceInfo(c: DeviceConsole, timeoutMs = 4000): Promise<DeviceInfo> {
  let v: unknown;
  try {
    v = await c.eval(DEVICE_EXPR.info, timeoutMs);
  } catch (e) {
    throw new Error(`the device does not answer ${DEVICE_EXPR.info} (${(e as Error).message}): is the DEEP firmware on it? (deep flash)`);
  }
  return checkInfo(v);
}

export class PairingError extends Error {
  constructor(
    readonly exit: 'io' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'PairingError';
  }
}

/** The ledger side of pairing, over HTTP (or in-process, for tests). */
/** A rider's EIP-712 signature over BindDevice(kid, public key, challenge): host-tools/ingest/owners.ts. */
export interface OwnerRequest {
  address: string;
  signature: string;
}

/** What an owner signs for: the node's chain and contract (its EIP-712 domain) and the device. */
export interface OwnerContext {
  chainId: number;
  contract: string;
  kid: Uint8Array;
  publicKey: Uint8Array;
  challenge: Uint8Array;
}

export interface PairingNode {
  challenge(): Promise<string>;
  /** Registers the proof (and the owner, if any); returns the device id the node derived from it. */
  register(challengeHex: string, proofB64: string, owner?: OwnerRequest): Promise<string>;
  /** The chain the node anchors to, as it said with the last challenge (undefined: none). */
  anchor?(): { chainId: number; contract: string } | undefined;
}

/** A PairingNode talking to an ingest node's HTTP API (GET /v1/devices/challenge, POST /v1/devices). */
export function httpPairingNode(endpoint: string, enrollToken?: string): PairingNode {
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await fetch(endpoint + path, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          // A node started with --enroll-token-file registers only with its token.
          ...(enrollToken === undefined ? {} : { authorization: `Bearer ${enrollToken}` }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new PairingError('io', `ingest node ${endpoint} unreachable (${cause})`);
    }
    const text = await res.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text);
    } catch {
      json = { error: text.slice(0, 200) };
    }
    return { status: res.status, json };
  }
  let anchor: { chainId: number; contract: string } | undefined;
  return {
    async challenge() {
      const r = await call('GET', '/v1/devices/challenge');
      if (r.status !== 200 || typeof r.json.challenge !== 'string') {
        throw new PairingError('io', `${endpoint} gave no challenge (HTTP ${r.status}: ${JSON.stringify(r.json).slice(0, 200)})`);
      }
      const a = r.json.anchor as { chainId?: unknown; contract?: unknown } | undefined;
      anchor = a && typeof a.chainId === 'number' && typeof a.contract === 'string' ? { chainId: a.chainId, contract: a.contract } : undefined;
      return r.json.challenge;
    },
    anchor: () => anchor,
    async register(challenge, proof, owner) {
      const r = await call('POST', '/v1/devices', owner ? { challenge, proof, owner } : { challenge, proof });
      if (r.status !== 201 && r.status !== 200) {
        throw new PairingError('failed', `registration refused by ${endpoint} (HTTP ${r.status}): ${String(r.json.error ?? JSON.stringify(r.json))}`);
      }
      return String(r.json.id ?? '');
    },
  };
}

export interface PairOptions {
  console: DeviceConsole;
  node: PairingNode;
  ssid: string;
  endpoint: string;
  /** Asked only when the device is going to be paired (so a second run asks nothing). */
  password: () => Promise<string>;
  force: boolean;
  /** Lets time pass while the device signs (real sleep, or the emulator's virtual clock). */
  wait: (ms: number) => Promise<void>;
  signTimeoutMs: number;
  log?: (line: string) => void;
  /** Signs the rider's ownership of the device (deep pair --owner-key-file); the node must anchor. */
  owner?: (ctx: OwnerContext) => Promise<OwnerRequest>;
  /** Each step as it starts; `signing` again with the time waited while the device signs. */
  progress?: (step: PairStep, waitedMs?: number) => void;
}

/** The steps of pairing, in order (the web app shows them as a list). */
export const PAIR_STEPS = ['device', 'settings', 'challenge', 'signing', 'register', 'record'] as const;
export type PairStep = (typeof PAIR_STEPS)[number];

export type PairResult = { status: 'paired'; id: string } | { status: 'already'; info: DeviceInfo };

/** Has the device sign a pairing proof over `challenge` (hex); resolves with it in base64. `waiting` hears the ms waited so far. */
export async function signPairingProof(
  c: DeviceConsole, challenge: string, wait: (ms: number) => Promise<void>, timeoutMs: number, waiting?: (waitedMs: number) => void,
): Promise<string> {
  let proof = await c.eval<unknown>(DEVICE_EXPR.proof(challenge));
  // Signing is stepped on the device (it must not starve the buses): poll until done.
  let waited = 0;
  while (proof === null && waited < timeoutMs) {
    await wait(100);
    waited += 100;
    waiting?.(waited);
    proof = await c.eval<unknown>(DEVICE_EXPR.proof());
  }
  if (typeof proof !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(proof)) {
    throw new PairingError('failed', proof === null
      ? `the device did not finish signing the pairing proof within ${timeoutMs / 1000} s`
      : `the device did not return a pairing proof (base64), got ${JSON.stringify(proof)?.slice(0, 120)}`);
  }
  return proof;
}

/** Settings, challenge, proof, registration, record: the whole of `deep pair`. */
export async function pairDevice(o: PairOptions): Promise<PairResult> {
  const c = o.console;
  const step = o.progress ?? (() => {});
  step('device');
  const info = await deviceInfo(c);
  if (info.paired && !o.force) return { status: 'already', info };
  const password = await o.password();

  // Settings first, so that once paired the device can also reach the node.
  step('settings');
  const ok = await c.eval(DEVICE_EXPR.settings({ ssid: o.ssid, password, endpoint: o.endpoint }));
  if (ok !== true) throw new PairingError('failed', `the device refused the settings: ${JSON.stringify(ok)}`);
  o.log?.(`settings written: WiFi "${o.ssid}", endpoint ${o.endpoint}`);

  step('challenge');
  const challenge = await o.node.challenge();
  step('signing', 0);
  const proof = await signPairingProof(c, challenge, o.wait, o.signTimeoutMs, (waited) => step('signing', waited));
  let owner: OwnerRequest | undefined;
  if (o.owner) {
    const a = o.node.anchor?.();
    if (!a) throw new PairingError('failed', `the node at ${o.endpoint} anchors on no chain, so it cannot record an owner`);
    owner = await o.owner({ ...a, kid: fromHex(info.id), publicKey: fromHex(info.publicKey), challenge: fromHex(challenge) });
  }
  step('register');
  const id = await o.node.register(challenge, proof, owner);
  if (id !== info.id) throw new PairingError('failed', `the node registered ${id}, but the device's id is ${info.id}`);
  step('record');
  const recorded = await c.eval(DEVICE_EXPR.paired(id));
  if (recorded !== true) throw new PairingError('failed', `the device did not record the pairing: ${JSON.stringify(recorded)}`);
  return { status: 'paired', id };
}
