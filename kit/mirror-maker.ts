import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit } from './child-processes.js';
import { assertKafkaInstalled, defaultKafkaLibsDir, KafkaMissingError, KAFKA_VERSION } from './kafka-broker.js';
import { REPO_ROOT } from './repo-root.js';
import { logTail } from './log-tail.js';

const LOG4J_CONFIG = join(REPO_ROOT, 'scripts/kafka/mirror-maker-log4j2.properties');
/** What org.apache.kafka.connect.mirror.MirrorMaker logs once every herder of every flow has started. */
const STARTED_LINE = 'Kafka MirrorMaker started';
/** ≈ 5 s here; a JVM on a busy machine can take many times that. */
const READY_TIMEOUT_MS = 90_000;
/** Given to a SIGTERMed MirrorMaker before SIGKILL: it may ignore SIGTERM once the brokers are gone (its producers retry for ever). */
const STOP_GRACE_MS = 5_000;

/** One Kafka cluster of a mirror: its alias (the region name: mirrored topics are named `<alias>.<topic>`) and its bootstrap address. */
export interface MirrorCluster {
  alias: string;
  brokers: string;
}

export interface MirrorMakerOptions {
  /** Two or more clusters; every ordered pair is mirrored (a->b and b->a for two). */
  clusters: readonly MirrorCluster[];
  /** Java regex of the source topics mirrored, e.g. `hexfleet\..*` (the deployment's topic prefix). */
  topics: string;
  /** Where the jars are (default: the broker's, which include connect-mirror). */
  libsDir?: string;
  /** Extra or overriding mm2.properties entries. */
  properties?: Record<string, string | number | boolean>;
  /**
   * Run only the flows INTO these clusters (MirrorMaker's `--clusters`): the
   * deployment MM2 recommends, one mirror in each target region consuming
   * remotely and producing locally, so a region's loss takes its inbound
   * mirror with it and leaves the other direction running. Default: every flow.
   */
  targets?: readonly string[];
}

/** The directories of the MirrorMakers still running, removed if this process exits without stopping them (their JVMs die with it: killOnExit). */
const ownedDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Apache Kafka MirrorMaker 2 in dedicated mode (`connect-mirror` 4.1.1 from
 * Maven Central, resolved by scripts/kafka/install.sh with the broker jars),
 * one JVM mirroring every ordered pair of the given clusters at once — for
 * two regions `a` and `b`, both a->b and b->a:
 *
 *   cluster a: hexfleet.positions ──a->b──▶ cluster b: a.hexfleet.positions
 *   cluster b: hexfleet.positions ──b->a──▶ cluster a: b.hexfleet.positions
 *
 * No loops: MM2's DefaultReplicationPolicy never mirrors a topic back to
 * the cluster it came from (`b.hexfleet.positions` on a is a's copy of b's
 * topic: its source cluster is b, so the a->b flow skips it as a cycle), and
 * the topic filter here takes only the deployment's own topics
 * (`<prefix>\..*`), so a mirrored `b.<prefix>.x` does not even match it. A
 * topic `a.b.x` or `b.a.x` therefore never exists (the replication test
 * checks both clusters' topic lists). The flip side: mirroring is not
 * transitive — with three regions every pair needs its own flow, which
 * listing all three clusters gives.
 *
 * Tuned for tests: every replication factor 1 (the internal topics too),
 * new topics picked up within a second, no heartbeats, checkpoints, group
 * offset or ACL sync (hexfleet's replication applier keeps its own group in
 * each region). Dead-letter topics are not mirrored.
 */
export class MirrorMaker {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly libsDir: string,
    private readonly targets: readonly string[],
  ) {}

  /** Writes mm2.properties, starts the JVM and resolves once MirrorMaker logged that it started; fails at once when Java or the jars are missing. */
  static async start(options: MirrorMakerOptions): Promise<MirrorMaker> {
    const libsDir = options.libsDir ?? defaultKafkaLibsDir();
    assertKafkaInstalled(libsDir);
    if (!existsSync(join(libsDir, `connect-mirror-${KAFKA_VERSION}.jar`))) {
      throw new KafkaMissingError(`MirrorMaker 2 (connect-mirror-${KAFKA_VERSION}.jar) is not in ${libsDir}: run \`bash scripts/kafka/install.sh\` (scripts/kafka/pom.xml resolves it with the broker).`);
    }
    if (options.clusters.length < 2) throw new Error('MirrorMaker.start needs at least two clusters');
    const dir = mkdtempSync(join(tmpdir(), 'hexfleet-mm2-'));
    ownedDirs.add(dir);
    const mm = new MirrorMaker(dir, libsDir, options.targets ?? []);
    writeFileSync(mm.propertiesFile, mm2Properties(options));
    try {
      await mm.launch();
    } catch (err) {
      await mm.stop();
      throw err;
    }
    return mm;
  }

  get running(): boolean {
    const p = this.proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** The JVM's pid (NaN when not running). */
  get pid(): number {
    return this.running ? (this.proc?.pid ?? NaN) : NaN;
  }

  get logFile(): string {
    return join(this.dir, 'mirror-maker.log');
  }

  get propertiesFile(): string {
    return join(this.dir, 'mm2.properties');
  }

  logTail(lines = 30): string {
    return logTail(this.logFile, lines);
  }

  /** SIGTERM, SIGKILL after a grace period; removes its directory. Idempotent. */
  async stop(): Promise<void> {
    if (this.running) {
      const p = this.proc!;
      p.kill('SIGCONT'); // a paused JVM would not act on SIGTERM
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    ownedDirs.delete(this.dir);
  }

  /** SIGSTOP: the mirror hangs (the link between two regions cut) until resume(); records appended meanwhile are not mirrored. */
  pause(): void {
    if (this.running) this.proc!.kill('SIGSTOP');
  }

  /** SIGCONT after pause(): the mirror goes on from where it was. */
  resume(): void {
    if (this.running) this.proc!.kill('SIGCONT');
  }

  /** SIGKILL, the way a lost region's mirror goes (its offsets stay in the target cluster's mm2-offsets topic); removes its directory. */
  async kill(): Promise<void> {
    if (this.running) this.proc!.kill('SIGKILL');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
    ownedDirs.delete(this.dir);
  }

  private async launch(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    const proc = spawn(
      'java',
      ['-Xms128m', '-Xmx512m', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
        '-cp', `${this.libsDir}/*`, 'org.apache.kafka.connect.mirror.MirrorMaker', this.propertiesFile,
        ...(this.targets.length > 0 ? ['--clusters', ...this.targets] : [])],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    this.proc = proc;
    killOnExit(proc);
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.logTail(10_000).includes(STARTED_LINE)) return;
      if (!this.running) throw new Error(`MirrorMaker exited before it started (code ${proc.exitCode}, signal ${proc.signalCode}); last log lines:\n${this.logTail()}`);
      if (Date.now() > deadline) throw new Error(`MirrorMaker did not start within ${READY_TIMEOUT_MS / 1000} s; last log lines:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** mm2.properties for dedicated mode: every ordered pair of clusters enabled, replication factor 1 everywhere. */
export function mm2Properties(options: MirrorMakerOptions): string {
  const props: Record<string, string | number | boolean> = {
    clusters: options.clusters.map((c) => c.alias).join(', '),
    // Also the internal topics of each flow's Connect worker (offsets, configs, status) and of the connectors.
    'replication.factor': 1,
    'config.storage.replication.factor': 1,
    'offset.storage.replication.factor': 1,
    'status.storage.replication.factor': 1,
    'offset-syncs.topic.replication.factor': 1,
    'heartbeats.topic.replication.factor': 1,
    'checkpoints.topic.replication.factor': 1,
    topics: options.topics,
    'topics.exclude': '.*\\.dlq, .*\\.dlq\\.redriven, .*[\\-\\.]internal, __.*',
    // Default 10 min: a topic created after the start (a test's, a new deployment's) would wait that long.
    'refresh.topics.interval.seconds': 1,
    'refresh.groups.enabled': false,
    'sync.topic.acls.enabled': false,
    'sync.group.offsets.enabled': false,
    'emit.heartbeats.enabled': false,
    'emit.checkpoints.enabled': false,
    // Records flow at once rather than in 5 ms batches (Kafka 4's producer default).
    'producer.linger.ms': 0,
    'tasks.max': 1,
    ...options.properties,
  };
  for (const c of options.clusters) props[`${c.alias}.bootstrap.servers`] = c.brokers;
  for (const from of options.clusters) {
    for (const to of options.clusters) if (from !== to) props[`${from.alias}->${to.alias}.enabled`] = true;
  }
  // A properties file reads `\.` as `.`: regexes keep their backslashes only doubled.
  return Object.entries(props).map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\')}`).join('\n') + '\n';
}
