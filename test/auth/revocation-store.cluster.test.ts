import { afterAll } from 'vitest';
import { BackendHosts } from '../support/backends.js';
import { revocationStoreContract } from './revocation-store.contract.js';

/** The RevocationStore contract on a real 6-node Redis Cluster (one key: one shard; pub/sub over the cluster bus). */
const hosts = new BackendHosts();
afterAll(() => hosts.stop());

revocationStoreContract('cluster', hosts);
