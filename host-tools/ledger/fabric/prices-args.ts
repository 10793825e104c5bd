// PostPrices arguments for a price series over [fromS, toS): the intervals the EVM contract
// would hold (host-tools/ledger/evm/contract.ts chainPriceSeries), in parts of `per`.
import { chainPriceSeries } from '../evm/contract';
import type { PriceSeries } from '../../testnet/prices';

export function postPricesArgs(series: PriceSeries, fromS: number, toS: number, per = 96): [string, string][] {
  const cs = chainPriceSeries(series, fromS, toS);
  const out: [string, string][] = [];
  for (let i = 0; i < cs.intervals.length; i += per) {
    const part = cs.intervals.slice(i, i + per).map((iv) => ({ startS: iv.start, importMicro: iv.importMicro, exportMicro: iv.exportMicro }));
    const end = i + per < cs.intervals.length ? cs.intervals[i + per].start : cs.end;
    out.push([JSON.stringify(part), String(end)]);
  }
  return out;
}
