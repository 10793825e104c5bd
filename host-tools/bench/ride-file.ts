// tsx host-tools/bench/ride-file.ts SEED_HEX COUNT OUT: writes the fast ride of rides.ts
// as a CBOR sequence (what `deep report --seed SEED_HEX --count COUNT` writes, made in a
// fraction of the time). bench:ingest runs one per core.
import { writeFileSync, renameSync } from 'node:fs';
import { fastRide } from './rides';

const [seedHex, countArg, out] = process.argv.slice(2);
if (!/^[0-9a-f]{64}$/.test(seedHex ?? '') || !/^\d+$/.test(countArg ?? '') || !out) {
  process.stderr.write('usage: tsx host-tools/bench/ride-file.ts SEED_HEX(64) COUNT OUT\n');
  process.exit(2);
}
const ride = fastRide(new Uint8Array(Buffer.from(seedHex, 'hex')), Number(countArg));
writeFileSync(`${out}.part`, Buffer.concat(ride.reports));
renameSync(`${out}.part`, out);
