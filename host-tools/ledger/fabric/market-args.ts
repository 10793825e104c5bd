// PostMarketInterval arguments for one interval: the EVM contract's postMarketInterval
// arguments (host-tools/ledger/evm/contract.ts marketIntervalArgs: devices only, one result
// each, ascending) in the chaincode's form, kids without 0x and amounts as JSON numbers.
import { marketIntervalArgs } from '../evm/contract';
import type { IntervalResult } from '../../market/hub';

export function postMarketIntervalArgs(startS: number, tariff: { retailMicroPerKwh: number; feedInMicroPerKwh: number }, results: readonly IntervalResult[]): [string, string, string, string] {
  const a = marketIntervalArgs(startS, tariff, results);
  const rows = a.results.map((r) => ({ device: r.device.slice(2), netWh: r.netWh, amountNano: Number(r.amountNano), retailMicro: r.retailMicro, feedInMicro: r.feedInMicro }));
  return [String(a.start), String(a.retailMicro), String(a.feedInMicro), JSON.stringify(rows)];
}
