// Owners at pairing: the rider proves control of an EVM account by signing (EIP-712)
// BindDevice(kid, public key, the node's challenge) in the contract's domain, and sends it
// with the device's pairing proof over the same challenge (POST /v1/devices, "owner"). The
// node checks the signature before it registers the device, keeps the request, and its
// publisher records the binding on chain (DeepLedger.bindOwner). Only the node can, because
// only it saw the device sign that challenge: the device's consent, the rider's signature.
import type { Address, Hex } from 'viem';
import { decodeSign1 } from '../../protocol/cose';
import { decodePairingPayload } from '../../protocol/pairing';
import { kidFromPublicKey } from '../../protocol/kid';
import { bindSigner } from '../ledger/evm/contract';
import type { BatchStore } from './sqlite-batches';
import type { Logger } from './log';

export interface OwnerRequest {
  address: string;
  signature: string;
}

export interface OwnerHook {
  /** The EIP-712 domain the rider signs in (told with each challenge). */
  chain: { chainId: number; contract: string };
  /** Why the owner request cannot be accepted with this challenge and proof, or undefined. */
  check(challenge: Uint8Array, proof: Uint8Array, owner: OwnerRequest): Promise<string | undefined>;
  /** Keeps the request for the publisher (after the device is registered). */
  record(deviceId: string, publicKey: Uint8Array, challenge: Uint8Array, owner: OwnerRequest): void;
}

export function createOwnerHook(batches: BatchStore, chain: { chainId: number; contract: Address }, logger: Logger, now: () => number = Date.now): OwnerHook {
  return {
    chain,
    async check(challenge, proof, owner) {
      if (!/^0x[0-9a-fA-F]{40}$/.test(owner.address)) return `"owner.address" expected an EVM address (0x and 40 hex digits), got ${JSON.stringify(owner.address)}`;
      if (!/^0x[0-9a-fA-F]{130}$/.test(owner.signature)) return '"owner.signature" expected 65 bytes in hex (0x and 130 hex digits)';
      let publicKey: Uint8Array;
      try {
        publicKey = decodePairingPayload(decodeSign1(proof).payload).publicKey;
      } catch (err) {
        // register() reports what is wrong with the proof itself.
        return undefined;
      }
      const signer = await bindSigner({ ...chain, kid: kidFromPublicKey(publicKey), publicKey, challenge, signature: owner.signature as Hex });
      if (!signer || signer.toLowerCase() !== owner.address.toLowerCase()) {
        return `the owner signature is not ${owner.address}'s over BindDevice(device, publicKey, challenge) for chain ${chain.chainId}, contract ${chain.contract}`;
      }
      return undefined;
    },
    record(deviceId, publicKey, challenge, owner) {
      batches.requestOwner({ device: deviceId, publicKey, owner: owner.address, challenge, signature: owner.signature, requestedAt: now() });
      logger.info('owner binding requested', { device: deviceId, owner: owner.address });
    },
  };
}
