// Hardhat 2 network for tests and the testnet: a London chain with Volta's chain id, as
// Energy Web's chains enable no fork after London. host-tools/ledger/evm/local-chain.ts
// starts it in-process; by hand: npx hardhat node --config host-tools/ledger/evm/hardhat.config.cjs --hostname 127.0.0.1
module.exports = {
  networks: {
    hardhat: {
      chainId: 73799,
      hardfork: 'london',
    },
  },
};
