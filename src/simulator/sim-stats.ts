/**
 * The simulator's counters, shared by the fleet, the order simulation and
 * the progress line. Plain numbers, monotonic except where noted; the
 * progress reporter derives rates from differences between two reads.
 */
export class SimStats {
  // Drivers
  pingsSent = 0;
  pingsAcked = 0;
  driverConnects = 0;
  driverDisconnects = 0;
  wentOffline = 0;
  cameBack = 0;
  // Offers
  offersReceived = 0;
  offersAccepted = 0;
  offersRejected = 0;
  /** Answers the gateway refused (offer_expired, not_offered, timeout, …). */
  offerReplyErrors = 0;
  // Orders
  ordersPlaced = 0;
  matchOk = 0;
  matchNoDriver = 0;
  /** Orders still refused (409/503 and other non-final answers) after three calls with their id: given up and cancelled. */
  matchRetryable = 0;
  matchErrors = 0;
  /** Orders not placed because `--max-open-orders` (or the HTTP in-flight bound) was reached. */
  ordersSkipped = 0;
  ordersAccepted = 0;
  ordersCompleted = 0;
  ordersCancelled = 0;
  ordersFailed = 0;
  // Tracking
  subscriptionsOpened = 0;
  positionsReceived = 0;
  statusFrames = 0;
  assignmentFrames = 0;
  // Everything that went wrong, by kind (SDK error codes, HTTP failures, …).
  readonly errors = new Map<string, number>();

  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  get errorCount(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }

  get offersAnswered(): number {
    return this.offersAccepted + this.offersRejected;
  }
}

/** Gauges read from the live objects at each progress line. */
export interface SimGauges {
  driversOpen: number;
  driversOffline: number;
  openOrders: number;
  openSubscriptions: number;
  /** Pings waiting in the DriverClients' buffers (not acked yet), all drivers. */
  bufferDepth: number;
  /** Pings the DriverClients dropped from full buffers, all drivers. */
  bufferDropped: number;
}
