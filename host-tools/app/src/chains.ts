// The chains a node anchors to, with their block explorers (Energy Web's Volta testnet and
// Energy Web Chain); another chain id is named by its number, without a link.
const CHAINS: Record<number, { name: string; tx: string }> = {
  73799: { name: 'Volta', tx: 'https://volta-explorer.energyweb.org/tx/' },
  246: { name: 'Energy Web Chain', tx: 'https://explorer.energyweb.org/tx/' },
};

export function chainName(id: number | undefined): string {
  return id === undefined ? 'an unnamed chain' : CHAINS[id]?.name ?? `chain ${id}`;
}

export function explorerTx(id: number | undefined, tx: string): string | undefined {
  const c = id === undefined ? undefined : CHAINS[id];
  return c ? c.tx + tx : undefined;
}
