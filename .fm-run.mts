import { runTestnet } from '/work/wt-fabricmarket/host-tools/testnet/testnet';
const r = await runTestnet({
  bikes: 2, hubs: 2, seed: 7, durationS: Number(process.argv[2] ?? 1800), speedup: 0, port: 0, workers: 1, ledger: 'fabric-inproc',
  tolerance: { flowMwh: 280, flowPermille: 0, packMwh: 4 },
  out: { write: () => {}, isTTY: false }, log: (l: string) => console.log('LOG', l),
});
console.log(r.lines.join('\n'));
for (const x of r.summary.market?.riders ?? []) console.log(x.name, x.settlement.matchedMwh, x.settlement.measuredMwh, x.settlement.atMarketMwh, String(x.settlement.marketPico), String(x.settlement.baselinePico));
