// A Fabric Gateway where no peer exists: the gateway.Gateway gRPC service (Endorse, Submit,
// CommitStatus, Evaluate) served with @grpc/grpc-js and fabric-protos, backed by the
// in-memory ledger running the chaincode. The real @hyperledger/fabric-gateway client talks
// to it: proposals are decoded and their signatures checked against the creator's
// certificate, the chaincode runs, and the prepared transaction carries the endorsed result
// (the read and write sets as JSON, not a real rwset) for the client to sign and submit.
// Faults on demand: down (every call UNAVAILABLE), a submitted transaction silently lost,
// or committed with its answer lost.
import { createHash, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { common, gateway, msp, peer } from '@hyperledger/fabric-protos';
import { FabricTxError, type Endorsement, type MemoryLedger } from '../../../../host-tools/ledger/fabric/inproc';
import type { FabricIdentity } from '../../../../host-tools/ledger/fabric/identity';

export interface FakeGateway {
  url: string;
  ledger: MemoryLedger;
  /** Every call fails with UNAVAILABLE while true. */
  down: boolean;
  /** The next Submit is answered OK but never ordered. */
  loseNextSubmit: boolean;
  /** The next Submit is committed, but the client gets UNAVAILABLE. */
  failAfterNextCommit: boolean;
  /** Transactions ordered (a resend counts again), in order. */
  ordered: string[];
  close(): Promise<void>;
}

const unavailable = () => Object.assign(new Error('gateway down'), { code: grpc.status.UNAVAILABLE });

interface Decoded {
  txId: string;
  channel: string;
  timestampS: number;
  header: common.Header;
  proposalPayload: Uint8Array;
  identity: FabricIdentity;
  fn: string;
  args: string[];
}

function decodeProposal(sp: peer.SignedProposal): Decoded {
  const proposalBytes = sp.getProposalBytes_asU8();
  const proposal = peer.Proposal.deserializeBinary(proposalBytes);
  const header = common.Header.deserializeBinary(proposal.getHeader_asU8());
  const ch = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
  const sh = common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
  const creator = msp.SerializedIdentity.deserializeBinary(sh.getCreator_asU8());
  const pem = Buffer.from(creator.getIdBytes_asU8()).toString('utf8');
  const publicKey: KeyObject = createPublicKey(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'pem' }));
  if (!verify('sha256', proposalBytes, publicKey, sp.getSignature_asU8())) throw Object.assign(new Error('proposal signature does not verify under the creator certificate'), { code: grpc.status.PERMISSION_DENIED });
  const payload = peer.ChaincodeProposalPayload.deserializeBinary(proposal.getPayload_asU8());
  const spec = peer.ChaincodeInvocationSpec.deserializeBinary(payload.getInput_asU8());
  const [fn, ...args] = spec.getChaincodeSpec()!.getInput()!.getArgsList_asU8().map((a) => Buffer.from(a).toString('utf8'));
  return {
    txId: ch.getTxId(), channel: ch.getChannelId(), timestampS: ch.getTimestamp()!.getSeconds(), header, proposalPayload: proposal.getPayload_asU8(),
    identity: { mspId: creator.getMspid(), certificate: pem, privateKey: undefined as never, attrs: {} }, fn, args,
  };
}

export async function startFakeGateway(ledger: MemoryLedger, peerKey: { identity: FabricIdentity }): Promise<FakeGateway> {
  const statuses = new Map<string, { code: number; block: number }>();
  const server = new grpc.Server();
  const fake: FakeGateway = { url: '', ledger, down: false, loseNextSubmit: false, failAfterNextCommit: false, ordered: [], close: async () => {} };
  const guard = <Req, Res>(fn: (req: Req) => Promise<Res>) => (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
    if (fake.down) return cb(unavailable());
    fn(call.request).then((r) => cb(null, r), (e: Error & { code?: number }) => cb({ code: e.code ?? grpc.status.ABORTED, details: e.message, name: 'Error', message: e.message }));
  };
  const endorsing = peer.ProposalResponsePayload;

  server.addService(gateway.GatewayService as never, {
    endorse: guard<gateway.EndorseRequest, gateway.EndorseResponse>(async (req) => {
      const d = decodeProposal(req.getProposedTransaction()!);
      const e = await ledger.endorse(d.identity, d.fn, d.args, { timestampS: d.timestampS, txId: d.txId });
      if (e.status !== 200) throw Object.assign(new Error(`chaincode response ${e.status}, ${e.message}`), { code: grpc.status.ABORTED });
      const response = new peer.Response();
      response.setStatus(200);
      response.setPayload(e.payload);
      const action = new peer.ChaincodeAction();
      action.setResponse(response);
      action.setResults(Buffer.from(JSON.stringify({ reads: e.reads, writes: e.writes.map(([k, v]) => [k, v && Buffer.from(v).toString('base64')]), event: e.event && { name: e.event.name, payload: Buffer.from(e.event.payload).toString('base64') }, timestampS: e.timestampS })));
      const prp = new endorsing();
      prp.setProposalHash(createHash('sha256').update(req.getProposedTransaction()!.getProposalBytes_asU8()).digest());
      prp.setExtension$(action.serializeBinary());
      const prpBytes = prp.serializeBinary();
      const endorsement = new peer.Endorsement();
      const endorser = new msp.SerializedIdentity();
      endorser.setMspid(peerKey.identity.mspId);
      endorser.setIdBytes(Buffer.from(peerKey.identity.certificate));
      endorsement.setEndorser(endorser.serializeBinary());
      endorsement.setSignature(sign('sha256', Buffer.concat([prpBytes, endorser.serializeBinary()]), peerKey.identity.privateKey));
      const endorsed = new peer.ChaincodeEndorsedAction();
      endorsed.setProposalResponsePayload(prpBytes);
      endorsed.setEndorsementsList([endorsement]);
      const cap = new peer.ChaincodeActionPayload();
      cap.setChaincodeProposalPayload(d.proposalPayload);
      cap.setAction(endorsed);
      const ta = new peer.TransactionAction();
      ta.setHeader(d.header.getSignatureHeader_asU8());
      ta.setPayload(cap.serializeBinary());
      const tx = new peer.Transaction();
      tx.setActionsList([ta]);
      const payload = new common.Payload();
      payload.setHeader(d.header);
      payload.setData(tx.serializeBinary());
      const env = new common.Envelope();
      env.setPayload(payload.serializeBinary());
      const res = new gateway.EndorseResponse();
      res.setPreparedTransaction(env);
      return res;
    }),

    submit: guard<gateway.SubmitRequest, gateway.SubmitResponse>(async (req) => {
      const env = req.getPreparedTransaction()!;
      const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
      const header = payload.getHeader()!;
      const sh = common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
      const creator = msp.SerializedIdentity.deserializeBinary(sh.getCreator_asU8());
      const cert = new X509Certificate(Buffer.from(creator.getIdBytes_asU8()).toString('utf8'));
      if (!verify('sha256', env.getPayload_asU8(), cert.publicKey, env.getSignature_asU8())) throw Object.assign(new Error('transaction signature does not verify'), { code: grpc.status.PERMISSION_DENIED });
      const txId = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8()).getTxId();
      if (fake.loseNextSubmit) {
        fake.loseNextSubmit = false;
        return new gateway.SubmitResponse();
      }
      fake.ordered.push(txId);
      const tx = peer.Transaction.deserializeBinary(payload.getData_asU8());
      const cap = peer.ChaincodeActionPayload.deserializeBinary(tx.getActionsList()[0].getPayload_asU8());
      const prp = peer.ProposalResponsePayload.deserializeBinary(cap.getAction()!.getProposalResponsePayload_asU8());
      const action = peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8());
      const r = JSON.parse(Buffer.from(action.getResults_asU8()).toString()) as { reads: [string, number][]; writes: [string, string | null][]; event: { name: string; payload: string } | null; timestampS: number };
      const e: Endorsement = {
        txId, status: 200, message: '', payload: action.getResponse()!.getPayload_asU8(), reads: r.reads, timestampS: r.timestampS,
        writes: r.writes.map(([k, v]) => [k, v === null ? null : new Uint8Array(Buffer.from(v, 'base64'))]),
        event: r.event && { name: r.event.name, payload: new Uint8Array(Buffer.from(r.event.payload, 'base64')) },
      };
      const block = ledger.committed.length + 1;
      try {
        ledger.commit(e);
        statuses.set(txId, { code: peer.TxValidationCode.VALID, block });
      } catch (err) {
        const code = (err as FabricTxError).code;
        // A peer keeps the first verdict for an id; a second copy is only refused.
        if (code === 'MVCC_READ_CONFLICT') statuses.set(txId, { code: peer.TxValidationCode.MVCC_READ_CONFLICT, block });
        else if (code !== 'DUPLICATE_TXID') throw err;
      }
      if (fake.failAfterNextCommit) {
        fake.failAfterNextCommit = false;
        throw unavailable();
      }
      return new gateway.SubmitResponse();
    }),

    commitStatus: guard<gateway.SignedCommitStatusRequest, gateway.CommitStatusResponse>(async (req) => {
      const txId = gateway.CommitStatusRequest.deserializeBinary(req.getRequest_asU8()).getTransactionId();
      // A peer answers once the transaction is in a block; this one waits a little, then gives up.
      for (let i = 0; i < 50 && !statuses.has(txId); i++) await new Promise((res) => setTimeout(res, 10));
      const st = statuses.get(txId);
      if (!st) throw Object.assign(new Error(`transaction ${txId} not committed (yet)`), { code: grpc.status.DEADLINE_EXCEEDED });
      const res = new gateway.CommitStatusResponse();
      res.setResult(st.code as never);
      res.setBlockNumber(st.block);
      return res;
    }),

    evaluate: guard<gateway.EvaluateRequest, gateway.EvaluateResponse>(async (req) => {
      const d = decodeProposal(req.getProposedTransaction()!);
      const e = await ledger.endorse(d.identity, d.fn, d.args, { timestampS: d.timestampS, txId: d.txId });
      if (e.status !== 200) throw Object.assign(new Error(`chaincode response ${e.status}, ${e.message}`), { code: grpc.status.ABORTED });
      const response = new peer.Response();
      response.setStatus(200);
      response.setPayload(e.payload);
      const res = new gateway.EvaluateResponse();
      res.setResult(response);
      return res;
    }),

    chaincodeEvents: (call: grpc.ServerWritableStream<unknown, unknown>) => call.destroy(Object.assign(new Error('not served by the fake gateway'), { code: grpc.status.UNIMPLEMENTED })),
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
  fake.url = `127.0.0.1:${port}`;
  fake.close = () => new Promise<void>((res) => server.tryShutdown(() => res()));
  return fake;
}
