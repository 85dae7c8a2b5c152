import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { unusedFixedPort } from './free-port.js';
import { REPO_ROOT } from './repo-root.js';
import { logTail } from './log-tail.js';

/** The broker version the jars are resolved for (scripts/kafka/pom.xml, install.sh). */
export const KAFKA_VERSION = '4.1.1';

const INSTALL = 'bash scripts/kafka/install.sh';
const LOG4J_CONFIG = join(REPO_ROOT, 'scripts/kafka/log4j2.properties');
/** The line kafka.server.KafkaRaftServer logs once the broker accepts clients. */
const STARTED_LINE = 'Kafka Server started';
/** Format + start take ≈ 2–4 s here; a JVM on a busy CI machine can take many times that. */
const READY_TIMEOUT_MS = 60_000;
/** A SIGTERMed combined broker/controller shuts down in ≈ 2 s; one still running after this is SIGKILLed. */
const STOP_GRACE_MS = 10_000;
/** Attempts at a first start when a picked port was taken meanwhile (by another process, between pick and bind). */
const PORT_ATTEMPTS = 5;

/** Where install.sh puts the jars: `$KAFKA_LIBS_DIR`, else `~/.cache/hexfleet/kafka-4.1.1/libs`. */
export function defaultKafkaLibsDir(): string {
  if (process.env.KAFKA_LIBS_DIR) return process.env.KAFKA_LIBS_DIR;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'hexfleet', `kafka-${KAFKA_VERSION}`, 'libs');
}

/** Java or the broker jars are missing: the message says how to get them. Never a silent skip. */
export class KafkaMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaMissingError';
  }
}

const checkedLibs = new Set<string>();

/**
 * Throws {@link KafkaMissingError} at once when `java` (17+) is not on PATH or
 * the jars are not in `libsDir`. Checked once per directory per process.
 */
export function assertKafkaInstalled(libsDir = defaultKafkaLibsDir()): void {
  if (checkedLibs.has(libsDir)) return;
  // -XshowSettings:properties prints java.specification.version (on stderr, with -version).
  const probe = spawnSync('java', ['-XshowSettings:properties', '-version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new KafkaMissingError(
      'java was not found on PATH. hexfleet\'s Kafka tests and benchmarks run a real Kafka broker on a JDK (17 or newer): ' +
        'install it with `sudo apt-get install -y openjdk-17-jre-headless maven` (Debian/Ubuntu) or `brew install openjdk@17 maven` (macOS), ' +
        `then run \`${INSTALL}\` (or \`bash .ci/run\`).`,
    );
  }
  const props = `${probe.stdout}${probe.stderr}`;
  const major = Number(/java\.specification\.version = (\d+)/.exec(props)?.[1] ?? NaN);
  if (!(major >= 17)) {
    throw new KafkaMissingError(`Kafka ${KAFKA_VERSION} needs Java 17 or newer; \`java\` reports version ${Number.isNaN(major) ? 'unknown' : major}. Install openjdk-17-jre-headless.`);
  }
  if (!existsSync(join(libsDir, `kafka_2.13-${KAFKA_VERSION}.jar`)) || !existsSync(join(libsDir, '.resolved-from'))) {
    throw new KafkaMissingError(
      `The Kafka ${KAFKA_VERSION} broker jars are not in ${libsDir}. Resolve them from Maven Central with \`${INSTALL}\` ` +
        '(needs java and mvn: `sudo apt-get install -y openjdk-17-jre-headless maven`), or run `bash .ci/run`.',
    );
  }
  checkedLibs.add(libsDir);
}

export interface KafkaBrokerOptions {
  /**
   * Data directory (server.properties, the log segments, broker.log).
   * Default: a temp dir of its own, removed by stop(). A directory passed in
   * is left in place; one that is already formatted is reused as it is.
   */
  dataDir?: string;
  /** Where the jars are (default: {@link defaultKafkaLibsDir}). */
  libsDir?: string;
  /** Extra or overriding server.properties entries (a benchmark's segment size, a test's session timeouts). */
  properties?: Record<string, string | number>;
  /** Also an SSL listener and a SASL_SSL (SCRAM) listener, beside PLAINTEXT (which the broker keeps for itself). */
  tls?: KafkaBrokerTls;
}

/** PEM files of the TLS listeners (e.g. from kit/test-certs.ts) and the SCRAM users created at format time. */
export interface KafkaBrokerTls {
  caFile: string;
  certFile: string;
  /** Unencrypted PKCS#8 (`BEGIN PRIVATE KEY`), as Kafka's PEM keystore takes it. */
  keyFile: string;
  /** Users of the SASL_SSL listener (`kafka-storage format --add-scram`). */
  scramUsers?: { mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; name: string; password: string }[];
}

/**
 * Every broker of this process still running, and the temp dirs it owns:
 * when the process exits without stopping them (a crashed or interrupted
 * run), the JVMs are killed and the dirs removed. A process killed by a
 * signal it does not handle runs no exit hook: then the broker outlives it.
 */
const live = new Set<ChildProcess>();
const ownedDirs = new Set<string>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A real single-node Apache Kafka (KRaft: one JVM that is both broker and
 * controller) on loopback, on two free ports, with its data in a directory
 * of its own. Used by the tests (`*.kafka.test.ts`) and the benchmarks.
 *
 *   start ─▶ running ──kill()──▶ gone (SIGKILL: a crash; the data stays)
 *              ▲  │                │
 *              │  └──stop()──▶ stopped (SIGTERM; its own data dir removed)
 *              └──restart()────────┘  (same ports, same data)
 *
 * Every replication factor is 1 and topics are never created implicitly:
 * a test that appends to a topic it did not create fails loudly.
 */
export class KafkaBroker {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private removed = false;

  private constructor(
    /** The client (PLAINTEXT) port. */
    readonly port: number,
    /** The KRaft controller port (the broker talks to itself on it). */
    readonly controllerPort: number,
    readonly dataDir: string,
    private readonly libsDir: string,
    private readonly ownsDir: boolean,
    /** The SSL and SASL_SSL listeners' ports (0: none). */
    readonly sslPort = 0,
    readonly saslSslPort = 0,
    private readonly tls: KafkaBrokerTls | undefined = undefined,
  ) {}

  /**
   * Formats the storage (unless `dataDir` already holds a formatted one),
   * starts the broker and resolves once it has logged "Kafka Server started".
   * Fails at once, saying how to get them, when Java or the jars are missing.
   */
  static async start(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
    const libsDir = options.libsDir ?? defaultKafkaLibsDir();
    assertKafkaInstalled(libsDir);
    const ownsDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hexfleet-kafka-'));
    if (ownsDir) ownedDirs.add(dataDir);
    mkdirSync(dataDir, { recursive: true });
    let lastError: unknown;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = await unusedFixedPort();
      let controllerPort = await unusedFixedPort();
      while (controllerPort === port) controllerPort = await unusedFixedPort();
      const taken = new Set([port, controllerPort]);
      const another = async (): Promise<number> => {
        let p = await unusedFixedPort();
        while (taken.has(p)) p = await unusedFixedPort();
        taken.add(p);
        return p;
      };
      const [sslPort, saslSslPort] = options.tls ? [await another(), await another()] : [0, 0];
      const broker = new KafkaBroker(port, controllerPort, dataDir, libsDir, ownsDir, sslPort, saslSslPort, options.tls);
      broker.writeProperties(options.properties ?? {});
      try {
        if (!existsSync(join(broker.logDir, 'meta.properties'))) await broker.format();
        await broker.launch();
        return broker;
      } catch (err) {
        lastError = err;
        if (!(err instanceof PortTakenError)) break;
      }
    }
    if (ownsDir) {
      rmSync(dataDir, { recursive: true, force: true });
      ownedDirs.delete(dataDir);
    }
    throw lastError;
  }

  /** The bootstrap address for clients: `127.0.0.1:<port>`. */
  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The SSL listener's bootstrap address (with `tls`). */
  get sslBrokers(): string {
    if (!this.sslPort) throw new Error('this broker was started without tls: no SSL listener');
    return `127.0.0.1:${this.sslPort}`;
  }

  /** The SASL_SSL (SCRAM) listener's bootstrap address (with `tls`). */
  get saslSslBrokers(): string {
    if (!this.saslSslPort) throw new Error('this broker was started without tls: no SASL_SSL listener');
    return `127.0.0.1:${this.saslSslPort}`;
  }

  /** The JVM's pid (NaN when not running), for CPU and memory accounting. */
  get pid(): number {
    return this.running ? (this.proc?.pid ?? NaN) : NaN;
  }

  get running(): boolean {
    const p = this.proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Everything the broker printed (log4j2 to stdout), across restarts. */
  get logFile(): string {
    return join(this.dataDir, 'broker.log');
  }

  /** The last lines of {@link logFile}, for error messages. */
  logTail(lines = 30): string {
    return logTail(this.logFile, lines);
  }

  /** SIGKILL, the way a crashed broker goes (what it wrote to its files stays); resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.running) this.proc!.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Starts the broker again on the same ports and data (after kill(), or
   * SIGTERMing it first when it runs); resolves once it accepts clients.
   * A port still held by the old process's sockets is retried for a while.
   */
  async restart(): Promise<void> {
    if (this.removed) throw new Error('KafkaBroker.restart() after stop() of a broker with its own temp dir: the data is gone');
    await this.terminate();
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        return await this.launch();
      } catch (err) {
        if (!(err instanceof PortTakenError) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200)); // the kernel frees the port when the old sockets are gone
      }
    }
  }

  /** Stops the broker (SIGTERM, SIGKILL after 10 s) and removes its own data dir; safe to call twice. */
  async stop(): Promise<void> {
    await this.terminate();
    if (this.ownsDir && !this.removed) {
      rmSync(this.dataDir, { recursive: true, force: true });
      ownedDirs.delete(this.dataDir);
      this.removed = true;
    }
  }

  private get logDir(): string {
    return join(this.dataDir, 'data');
  }

  private get propertiesFile(): string {
    return join(this.dataDir, 'server.properties');
  }

  private async terminate(): Promise<void> {
    if (!this.running) return this.exited;
    const p = this.proc!;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private writeProperties(extra: Record<string, string | number>): void {
    const props: Record<string, string | number> = {
      'process.roles': 'broker,controller',
      'node.id': 1,
      'controller.quorum.voters': `1@127.0.0.1:${this.controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${this.port}`,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'log.dirs': this.logDir,
      ...this.tlsProperties(),
      // One node: every internal topic and every default must fit on it.
      'offsets.topic.replication.factor': 1,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'share.coordinator.state.topic.replication.factor': 1,
      'share.coordinator.state.topic.min.isr': 1,
      'default.replication.factor': 1,
      'min.insync.replicas': 1,
      // 50 partitions (the default) make the first group join of a fresh broker wait for 50 coordinators to load.
      'offsets.topic.num.partitions': 5,
      // A group's first rebalance waits 3 s by default for more members: tests start them one by one.
      'group.initial.rebalance.delay.ms': 0,
      // A topic nobody created is a bug in the caller, not something to paper over.
      'auto.create.topics.enable': 'false',
      'num.partitions': 1,
      // A broker restarted after kill() may only register again once the
      // controller has expired its old session (9 s by default): restarts in
      // the chaos tests take ≈ 3 s instead of ≈ 12 s.
      'broker.session.timeout.ms': 2000,
      'broker.heartbeat.interval.ms': 500,
      // 2 cores: the defaults (3 network, 8 I/O threads) only add context switches.
      'num.network.threads': 2,
      'num.io.threads': 2,
      ...extra,
    };
    const text = Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
    writeFileSync(this.propertiesFile, text);
  }

  /**
   * The SSL and SASL_SSL listeners: a PEM keystore (key then certificate,
   * one file) and a PEM truststore; SCRAM-SHA-256 and -512 on SASL_SSL, whose
   * users exist from format time on (KRaft has no ZooKeeper to add them to).
   * The broker and controller keep talking PLAINTEXT among themselves.
   */
  private tlsProperties(): Record<string, string> {
    const t = this.tls;
    if (!t) return {};
    const keystore = join(this.dataDir, 'keystore.pem');
    writeFileSync(keystore, readFileSync(t.keyFile, 'utf8') + readFileSync(t.certFile, 'utf8'));
    const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    return {
      listeners: `PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort},SSL://127.0.0.1:${this.sslPort},SASL_SSL://127.0.0.1:${this.saslSslPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${this.port},SSL://127.0.0.1:${this.sslPort},SASL_SSL://127.0.0.1:${this.saslSslPort}`,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': t.caFile,
      'sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': scram,
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': scram,
    };
  }

  /** `StorageTool format` with a fresh cluster id (and the SCRAM users of `tls`). */
  private async format(): Promise<void> {
    const scram = (this.tls?.scramUsers ?? []).flatMap((u) => ['--add-scram', `${u.mechanism}=[name=${u.name},password=${u.password}]`]);
    const args = ['-cp', `${this.libsDir}/*`, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', this.propertiesFile, ...scram];
    await new Promise<void>((resolve, reject) => {
      // A short-lived tool: the C1 compiler alone and the serial GC halve the CPU it takes (≈ 0.9 → 0.5 s here).
      const jvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`];
      execFile('java', [...jvm, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err) reject(new Error(`kafka StorageTool format failed: ${err.message}\n${stdout}${stderr}`));
        else resolve();
      });
    });
  }

  /** Starts the JVM and resolves once the broker logged that it started; rejects (the JVM killed) otherwise. */
  private async launch(): Promise<void> {
    const logStart = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const fd = openSync(this.logFile, 'a');
    const proc = spawn(
      'java',
      ['-Xms256m', '-Xmx1g', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
        '-cp', `${this.libsDir}/*`, 'kafka.Kafka', this.propertiesFile],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    this.proc = proc;
    live.add(proc);
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    void this.exited.then(() => live.delete(proc));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const out = this.logSince(logStart);
      if (out.includes(STARTED_LINE)) return;
      if (!this.running) {
        if (/Address already in use|BindException/.test(out)) throw new PortTakenError(`port ${this.port} or ${this.controllerPort} is taken`);
        throw new Error(`kafka broker exited before it started (code ${proc.exitCode}, signal ${proc.signalCode}); last log lines:\n${this.logTail()}`);
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`kafka broker did not start within ${READY_TIMEOUT_MS / 1000} s on port ${this.port}; last log lines:\n${this.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private logSince(offset: number): string {
    try {
      return readFileSync(this.logFile).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }
}

class PortTakenError extends Error {
  override name = 'PortTakenError';
}

/**
 * A Kafka cluster id: 16 random bytes, base64url without padding — what
 * `StorageTool random-uuid` prints, without a JVM start (≈ 0.7 s). Like
 * Kafka's Uuid.randomUuid(), never one starting with "-" (a CLI would take
 * it for an option).
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
