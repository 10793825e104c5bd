// The device signer: the only object that ever holds the Ed25519 seed in RAM. The seed
// lives in this closure and nowhere else: the signer exposes the public key, the key id,
// and signing (one-shot and stepped, for protocol/cose sign1 / sign1Stepped and the
// pairing proof), and nothing that reveals the seed: no property, getter, toJSON or
// toString returns it (tested). Signing itself (RFC 8032 §5.1.6) is handed in as an
// Ed25519Impl: firmware/keys/ed25519 on the host and in tests; on the device the Storage
// module "ed25519" (dist/ed25519-module.js) loaded by firmware/hal/espruino, so its code
// and table stay in flash and out of the firmware bundle.
//
// Honest limit: on Espruino anyone with the REPL can read the flash file the seed is
// stored in (require("Storage").read), so a deployed device must lock its console
// (E.setPassword / E.lockConsole, wired by the HAL); this object protects against our own
// code leaking the seed (logs, reports, commands), not against a console user.
//
// Public API
//   createSigner(seed32, impl) -> DeviceSigner  (copies the seed; wipe your copy afterwards)
//     impl: Ed25519Impl { ed25519PublicKey, ed25519Sign, ed25519SignSteps }
//     publicKey()          32-byte raw public key (a copy)
//     kid()                8-byte key id, protocol/kid (a copy)
//     sign(msg)            64-byte Ed25519 signature            (protocol/cose Signer)
//     signSteps(msg)       { step(): boolean, signature() }      (protocol/cose SteppedSigner)
//     toJSON()/toString()  public key and kid only
// Type-only: erased at compile time, so the bundle does not carry ./ed25519 or its table.
import type { SignSteps } from './_ed25519-core';
import { kidFromPublicKey } from '../../protocol/kid';
import { copyBytes, toHex } from '../../protocol/bytes';

/** The Ed25519 functions the signer uses (./ed25519 or the Storage module "ed25519"). */
export interface Ed25519Impl {
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(message: Uint8Array, seed: Uint8Array, publicKey?: Uint8Array): Uint8Array;
  ed25519SignSteps(message: Uint8Array, seed: Uint8Array, publicKey?: Uint8Array): SignSteps;
}

export interface DeviceSigner {
  publicKey(): Uint8Array;
  kid(): Uint8Array;
  sign(message: Uint8Array): Uint8Array;
  signSteps(message: Uint8Array): SignSteps;
  toJSON(): { publicKey: string; kid: string };
  toString(): string;
}

export function createSigner(seed32: Uint8Array, impl: Ed25519Impl): DeviceSigner {
  if (!(seed32 instanceof Uint8Array) || seed32.length !== 32) {
    throw new Error('createSigner: "seed32" expected 32-byte Uint8Array');
  }
  if (!impl || typeof impl.ed25519PublicKey !== 'function' || typeof impl.ed25519Sign !== 'function' || typeof impl.ed25519SignSteps !== 'function') {
    throw new Error('createSigner: "impl" expected { ed25519PublicKey, ed25519Sign, ed25519SignSteps }');
  }
  // Bound once: the signer keeps these three functions, not the caller's object.
  var publicKeyOf = impl.ed25519PublicKey, signOnce = impl.ed25519Sign, signStepped = impl.ed25519SignSteps;
  var seed = new Uint8Array(32);
  seed.set(seed32);
  var pub = publicKeyOf(seed);
  var kid = kidFromPublicKey(pub);

  function checkMsg(m: Uint8Array, who: string) {
    if (!(m instanceof Uint8Array)) throw new Error('signer.' + who + ': "message" expected Uint8Array');
  }

  return {
    publicKey: function () { return copyBytes(pub, 0, 32); },
    kid: function () { return copyBytes(kid, 0, kid.length); },
    sign: function (message: Uint8Array) {
      checkMsg(message, 'sign');
      return signOnce(message, seed, pub);
    },
    signSteps: function (message: Uint8Array) {
      checkMsg(message, 'signSteps');
      var s = signStepped(message, seed, pub);
      // Hand out only step/signature, never the inner job (it holds the expanded key).
      return { step: function () { return s.step(); }, signature: function () { var g = s.signature(); return copyBytes(g, 0, g.length); } };
    },
    toJSON: function () { return { publicKey: toHex(pub), kid: toHex(kid) }; },
    toString: function () { return 'DeviceSigner(kid ' + toHex(kid) + ')'; },
  };
}
