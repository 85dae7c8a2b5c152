import type { Message } from './worker.js';

/** Orchestrator → fan-out publisher: where to publish and what. */
export interface FanoutConfig extends Message {
  type: 'config';
  redisUrl: string;
  prefix: string;
  /** HEXFLEET_REDIS_AREA_RESOLUTION of the run. */
  areaResolution: number;
  /** Market centers: positions are spread evenly over them. */
  markets: { lat: number; lng: number }[];
  /** Drivers per market (each moves a little at every one of its positions). */
  driversPerMarket: number;
}

/** Publish `rate` positions/s from now until `stop`, one publish (one store write's worth) every `tickMs`. */
export interface FanoutGo extends Message {
  type: 'go';
  rate: number;
  tickMs: number;
}

/** The publisher's account of a step: what it published and how far it fell behind its schedule. */
export interface FanoutStopped extends Message {
  type: 'stopped';
  positions: number;
  publishes: number;
  /** Positions not published because the publisher was starved past its catch-up cap. */
  dropped: number;
  seconds: number;
  /** Worst lateness of a tick against its schedule (ms): a publisher that cannot keep up shows it here. */
  worstLateMs: number;
}
