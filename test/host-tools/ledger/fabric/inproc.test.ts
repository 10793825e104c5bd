// The in-memory peer itself: composite keys of fabric-shim's layout, no read-your-writes,
// ordered partial-key queries, one event per transaction, MVCC and duplicate tx ids, and
// client identities parsed by fabric-shim's ClientIdentity.
import '../../../../host-tools/ledger/fabric/quiet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Contract, Transaction, Returns, Param } from 'fabric-contract-api';
import { MemoryLedger, FabricTxError } from '../../../../host-tools/ledger/fabric/inproc';
import { makeIdentity } from '../../../../host-tools/ledger/fabric/identity';
import type { Context } from 'fabric-contract-api';

// A probe contract: decorators applied as functions (no experimentalDecorators needed).
class Probe extends Contract {
  constructor() {
    super('probe');
  }
  async Put(ctx: Context, name: string, value: string): Promise<string> {
    const key = ctx.stub.createCompositeKey('probe.item', [name]);
    const before = Buffer.from(await ctx.stub.getState(key)).toString();
    await ctx.stub.putState(key, Buffer.from(value));
    const after = Buffer.from(await ctx.stub.getState(key)).toString();
    ctx.stub.setEvent('first', Buffer.from('1'));
    ctx.stub.setEvent('Put', Buffer.from(name));
    return JSON.stringify({ before, after });
  }
  async List(ctx: Context): Promise<string> {
    const out: string[] = [];
    const it = await ctx.stub.getStateByPartialCompositeKey('probe.item', []);
    for (let r = await it.next(); !r.done; r = await it.next()) out.push(ctx.stub.splitCompositeKey(r.value.key).attributes[0]);
    await it.close();
    return JSON.stringify(out);
  }
  async Who(ctx: Context): Promise<string> {
    return JSON.stringify({ msp: ctx.clientIdentity.getMSPID(), role: ctx.clientIdentity.getAttributeValue('deep.role'), id: ctx.clientIdentity.getID() });
  }
  async Fail(_ctx: Context): Promise<void> {
    throw new Error('refused: because');
  }
}
for (const fn of ['Put', 'List', 'Who', 'Fail'] as const) Transaction(fn !== 'List' && fn !== 'Who')(Probe.prototype, fn);
Param('name', 'string')(Probe.prototype, 'Put');
Param('value', 'string')(Probe.prototype, 'Put');
for (const fn of ['Put', 'List', 'Who'] as const) Returns('string')(Probe.prototype, fn);

const alice = makeIdentity('Org1MSP', 'alice', { 'deep.role': 'rider' });
const at = { timestampS: 1_765_000_000 };

test('composite keys are fabric-shim\'s layout; a transaction does not read its own writes', async () => {
  const ledger = new MemoryLedger({ contracts: [Probe] });
  const { result, tx } = await ledger.submit(alice, 'Put', ['b', 'x'], at);
  assert.equal(JSON.parse(result), { before: '', after: '' });
  assert.equal(tx.writes.map(([k]) => k), ['\u0000probe.item\u0000b\u0000']);
  // one event per transaction: the last setEvent wins, as on a peer
  assert.is(tx.event?.name, 'Put');
  const again = await ledger.submit(alice, 'Put', ['b', 'y'], at);
  assert.equal(JSON.parse(again.result), { before: 'x', after: 'x' });
});

test('partial composite key queries run in key order over committed state', async () => {
  const ledger = new MemoryLedger({ contracts: [Probe] });
  for (const n of ['c', 'a', 'b']) await ledger.submit(alice, 'Put', [n, n], at);
  assert.equal(JSON.parse(await ledger.evaluate(alice, 'List', [], at)), ['a', 'b', 'c']);
});

test('client identity: MSP id and Fabric CA attributes through fabric-shim ClientIdentity', async () => {
  const ledger = new MemoryLedger({ contracts: [Probe] });
  const who = JSON.parse(await ledger.evaluate(alice, 'Who', [], at));
  assert.is(who.msp, 'Org1MSP');
  assert.is(who.role, 'rider');
  assert.match(who.id, /^x509::\/O=Org1MSP\/OU=client\/CN=alice::/);
});

test('a throwing transaction fails endorsement with its message; MVCC conflicts and reused ids are refused', async () => {
  const ledger = new MemoryLedger({ contracts: [Probe] });
  try {
    await ledger.submit(alice, 'Fail', [], at);
    assert.unreachable('Fail committed');
  } catch (e) {
    assert.instance(e, FabricTxError);
    assert.is((e as FabricTxError).code, 'ENDORSEMENT_FAILED');
    assert.match((e as Error).message, 'refused: because');
  }
  const e1 = await ledger.endorse(alice, 'Put', ['k', '1'], at);
  const e2 = await ledger.endorse(alice, 'Put', ['k', '2'], at);
  ledger.commit(e1);
  assert.throws(() => ledger.commit(e2), (e: FabricTxError) => e.code === 'MVCC_READ_CONFLICT');
  assert.throws(() => ledger.commit(e1), (e: FabricTxError) => e.code === 'DUPLICATE_TXID');
  assert.is(Buffer.from(ledger.read('\u0000probe.item\u0000k\u0000').value!).toString(), '1');
});

test.run();
