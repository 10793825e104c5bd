// A report file from `deep report`, damaged the ways a transport or a forger would, gives
// the same verdicts report by report in the chaincode, in `deep verify` and in the ingest
// node. One difference is by design: a report beyond head + 1 is held pending by the
// ingest node (accepted, state "pending") and rejected as "gap" by `deep verify` and the
// chaincode (a Fabric transaction cannot wait for a later one). The file keeps its one
// hole at the end, so no held report is promoted later in the same request: a report the
// node promotes would be "gap" here and "accepted" there, and its resend the other way round.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPrivateKey, sign as edSign } from 'node:crypto';
import { newLedger, registerDevice, submitReports } from './_ledger';
import { deep } from '../../cli/_run';
import { verifyFile } from '../../../../host-tools/cli/commands/verify';
import { decodeSequence } from '../../../../protocol/cbor';
import { decodeSign1, sign1 } from '../../../../protocol/cose';
import { decodeReport, encodeReport, type EnergyReport } from '../../../../protocol/report';
import { startIngestNode } from '../../../../host-tools/ingest/node';
import { createLogger } from '../../../../host-tools/ingest/log';
import { register, postReports } from '../../ingest/_fixtures';

const SEED = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
const PUB = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c';

test('deep report file: chaincode verdicts = deep verify = ingest node, report by report', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-fabric-'));
  try {
    const file = path.join(dir, 'ride.cbor');
    const r = await deep(['report', '--seed', SEED, '--count', '24', '--out', file]);
    assert.is(r.code, 0, r.err);
    const parts = decodeSequence(new Uint8Array(readFileSync(file))).map((s) => Buffer.from(s.bytes));
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(SEED, 'hex')]);
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const dev = { publicKey: new Uint8Array(Buffer.from(PUB, 'hex')), sign: (tbs: Uint8Array) => new Uint8Array(edSign(null, tbs, key)) };
    // Re-signed with the device's own key after a change: what a compromised or buggy device sends.
    const resign = (b: Buffer, change: (r: EnergyReport) => void) => {
      const rep = decodeReport(decodeSign1(new Uint8Array(b)).payload);
      change(rep);
      return Buffer.from(sign1(encodeReport(rep), rep.kid, dev.sign));
    };
    // seq 0..9 good; 10 with a flipped signature bit; 10 intact; a resend of 4; other bytes
    // for 5 (a fork); 11 with counters that do not add up; 11..15; 12 again; 18 (a hole at
    // 16, 17); garbage at the end.
    const bad = Buffer.from(parts[10]);
    bad[bad.length - 9] ^= 0x20;
    const fork = resign(parts[5], (x) => { x.packs[0].packToMotorMwh += 1; x.packs[0].lifetime.packToMotorMwh += 1; });
    const odd = resign(parts[11], (x) => { x.packs[0].lifetime.regenToPackMwh += 5; });
    const items = [...parts.slice(0, 10), bad, parts[10], parts[4], fork, odd, ...parts.slice(11, 16), parts[12], parts[18]];
    const bytes = new Uint8Array(Buffer.concat([...items, Buffer.from([0x9f, 0x01])]));

    // deep verify: a problem line per rejected report, by index
    const problems: string[] = [];
    verifyFile('ride.cbor', bytes, dev.publicKey, problems);
    const cli = new Map<number, string>();
    for (const line of problems) {
      const m = /^report #(\d+) \(offset \d+(?: seq \d+)?\): (\w+):/.exec(line) ?? /^offset \d+: (malformed)/.exec(line);
      assert.ok(m, line);
      cli.set(m.length === 3 ? Number(m[1]) : items.length, m[m.length - 1]);
    }

    const ledger = await newLedger();
    await registerDevice(ledger, dev, 'rider-a');
    const cc = (await submitReports(ledger, bytes)).results;

    const node = await startIngestNode({ db: path.join(dir, 'ledger.db'), port: 0, workers: 1, logger: createLogger({ level: 'error', sink: { write: () => {} } }) });
    let ingest: any[];
    try {
      assert.is((await register(node.url, { ...dev, kid: new Uint8Array(8), id: '', seed: new Uint8Array(32) })).status, 201);
      // The node refuses a whole body whose tail does not decode (400): it gets the reports only.
      const res = await postReports(node.url, new Uint8Array(Buffer.concat(items)), 'application/cbor-seq');
      assert.is(res.status, 200, JSON.stringify(res.json));
      ingest = res.json.results;
    } finally {
      await node.close();
    }

    assert.is(cc.length, items.length + 1);
    assert.is(ingest.length, items.length);
    const expected = ['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted',
      'bad_signature', 'accepted', 'duplicate', 'fork', 'implausible', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'duplicate', 'gap', 'malformed'];
    const verdict = (a: any) => (a.status === 'rejected' ? a.reason : a.status);
    assert.equal(cc.map(verdict), expected);
    // deep verify names only problems: a report without one is a duplicate when the same
    // bytes passed before, accepted otherwise.
    const passed: Buffer[] = [];
    for (let i = 0; i < cc.length; i++) {
      let fromCli = cli.get(i);
      if (!fromCli) {
        fromCli = passed.some((x) => x.equals(items[i])) ? 'duplicate' : 'accepted';
        passed.push(items[i]);
      }
      assert.is(verdict(cc[i]), fromCli, `report #${i}: chaincode ${verdict(cc[i])}, deep verify ${fromCli}`);
      if (i === items.length) continue;
      const n = ingest[i];
      const fromNode = n.status === 'accepted' && n.state === 'pending' ? 'gap' : verdict(n);
      assert.is(verdict(cc[i]), fromNode, `report #${i}: chaincode ${verdict(cc[i])}, ingest node ${JSON.stringify(n)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
