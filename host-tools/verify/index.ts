// The ledger-node verification library: stateless checks (report.ts), chain rules driven
// by a chain view (chain.ts), pairing proofs (pairing.ts), strict Ed25519 (ed25519.ts).
export * from './reasons';
export * from './ed25519';
export * from './plausibility';
export * from './report';
export * from './chain';
export * from './pairing';
export { kidFromPublicKey } from '../../protocol/kid';
