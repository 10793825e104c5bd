// fabric-shim and fabric-contract-api log every decorator and failed transaction at INFO
// through winston on the console; a peer sets the level through this variable. In process
// (tests, `deep testnet`) only their fatal messages are wanted. Imported before them.
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'CRITICAL';
