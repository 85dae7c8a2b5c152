import type { Config } from '../config/config-schema.js';

/**
 * The region whose ownership records fence this gateway's dispatch, or
 * undefined when it takes part in no cross-region deployment. Ownership is
 * on exactly when the region replicates from others (HEXFLEET_REPLICATE_FROM,
 * which needs HEXFLEET_REGION): then the same drivers and orders are seen in
 * several regions and one must be home to each. A single region keeps
 * reserving every driver as before, without claims.
 */
export function ownershipRegionOf(config: Pick<Config, 'region' | 'replicateFrom'>): string | undefined {
  return replicationSourcesOf(config).length > 0 && config.region !== '' ? config.region : undefined;
}

/** The regions of HEXFLEET_REPLICATE_FROM (validated by the config schema). */
export function replicationSourcesOf(config: Pick<Config, 'replicateFrom'>): string[] {
  return config.replicateFrom.split(',').map((r) => r.trim()).filter((r) => r !== '');
}
