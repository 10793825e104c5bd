// What `deep flash` and `deep pair` ask the DEEP firmware over its console. Every call is
// one JavaScript expression evaluated on the device (DeviceConsole.eval), whose value
// comes back as JSON. These are the firmware's pairing-console commands (issue 4,
// "Pairing console"); this file is the one place the host side names them.
import { DeviceConsole } from './device-link';

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
}

/** Expressions of the device console contract. */
export const DEVICE_EXPR = {
  info: 'deep.info()',
  settings: (s: { ssid: string; password: string; endpoint: string }) => `deep.settings(${JSON.stringify(s)})`,
  proof: (challengeHex: string) => `deep.pairingProof(${JSON.stringify(challengeHex)})`,
  paired: (deviceId: string) => `deep.paired(${JSON.stringify(deviceId)})`,
};

function checkInfo(v: unknown): DeviceInfo {
  const i = v as Partial<DeviceInfo> | undefined;
  if (!i || typeof i.version !== 'string' || typeof i.id !== 'string' || typeof i.publicKey !== 'string') {
    throw new Error(`the device's ${DEVICE_EXPR.info} answered ${JSON.stringify(v)?.slice(0, 200)}: is the DEEP firmware on it? (deep flash)`);
  }
  return { version: i.version, id: i.id, publicKey: i.publicKey, ssid: i.ssid ?? '', endpoint: i.endpoint ?? '', paired: i.paired === true };
}

export async function deviceInfo(c: DeviceConsole, timeoutMs = 4000): Promise<DeviceInfo> {
  return checkInfo(await c.eval(DEVICE_EXPR.info, timeoutMs));
}
