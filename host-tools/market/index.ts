// The local energy market (protocol/MARKET.md): orders, the double auction per hub and
// interval, riders' policies, and the settlement of measured energy at the cleared price.
export * from './auction';
export * from './hub';
export * from './policy';
export * from './pv';
