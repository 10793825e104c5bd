// The chaincode module as fabric-chaincode-node loads it (package.json "main"): its contracts.
import { DeepContract } from './contract';

export { DeepContract };
export const contracts = [DeepContract];
