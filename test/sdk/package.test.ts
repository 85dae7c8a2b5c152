import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stopProcess, track } from '../../kit/child-processes.js';
import { REPO_ROOT } from '../../kit/repo-root.js';
import { stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { waitFor } from '../support/wait-for.js';
import { npmEnv, packSdk, type PackedSdk, SDK_DIR, tsc } from './packed-sdk.js';

/**
 * @hexfleet/sdk as a user gets it: packed by npm, installed from the tarball
 * into an app of its own, imported from plain Node ESM through both entry
 * points, type-checked against the packed declarations, bundled for browsers,
 * and its README's examples run against a real gateway.
 */

const run = promisify(execFile);
let sdk: PackedSdk;

beforeAll(async () => {
  sdk = await packSdk();
}, 180_000);

afterAll(async () => {
  if (sdk) await rm(sdk.dir, { recursive: true, force: true });
});

/** Runs a script file of the app with plain node; its stdout parsed as JSON. */
async function runInApp(name: string, source: string, nodeArgs: string[] = []): Promise<any> {
  await writeFile(join(sdk.app, name), source);
  const { stdout } = await run(process.execPath, [...nodeArgs, name], { cwd: sdk.app });
  return JSON.parse(stdout);
}

describe('@hexfleet/sdk package', () => {
  it('packs the build, its declarations, the examples, README and LICENSE; no sources, no source maps', () => {
    const files = sdk.files;
    for (const f of ['package.json', 'README.md', 'LICENSE', 'examples/driver-app.mjs', 'examples/customer-app.mjs',
      'dist/sdk/index.js', 'dist/sdk/index.d.ts', 'dist/sdk/node-index.js', 'dist/sdk/node-index.d.ts',
      'dist/protocol/wire-frames.d.ts', 'dist/protocol/error-codes.js']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /\.map$|(?<!\.d)\.ts$/.test(f))).toEqual([]);
    // Only the SDK and the protocol files it imports: nothing of the gateway.
    const beyond = files.filter((f) => f.startsWith('dist/') && !/^dist\/(sdk|protocol\/(error-codes|wire-frames|regions-answer))\b/.test(f));
    expect(beyond, 'a new import of src/sdk or of those protocol files brought these into the package: keep them out, or check they run in browsers and update this list').toEqual([]);
  });

  it('imports from plain Node ESM: the node entry defaults to the ws package, the browser entry needs a WebSocket', async () => {
    const out = await runInApp('entries.mjs', `
      import * as node from '@hexfleet/sdk';
      import * as browser from '@hexfleet/sdk/browser';
      const tryConstruct = (C) => {
        try { const c = new C({ urls: ['ws://127.0.0.1:9/v1/track'], token: 't' }); void c.close(); return 'constructed'; }
        catch (e) { return e.message; }
      };
      console.log(JSON.stringify({
        node: Object.keys(node).sort(), browser: Object.keys(browser).sort(),
        nodeIsSubclass: node.DriverClient.prototype instanceof browser.DriverClient,
        sameError: node.SdkError === browser.SdkError,
        nodeTracking: tryConstruct(node.TrackingClient), browserTracking: tryConstruct(browser.TrackingClient),
      }));`);
    expect(out.node).toEqual(['DriverClient', 'SdkError', 'TrackingClient']);
    expect(out.browser).toEqual(['DriverClient', 'SdkError', 'TrackingClient']);
    expect(out.nodeIsSubclass).toBe(true);
    expect(out.sameError).toBe(true);
    expect(out.nodeTracking).toBe('constructed');
    // Node 20 has no global WebSocket: the browser entry says what to pass.
    expect(out.browserTracking).toMatch(/no WebSocket implementation: pass options.WebSocket/);

    // A bundler or runtime with the browser condition gets the browser entry for the bare name.
    const cond = await runInApp('conditions.mjs', `
      import * as bare from '@hexfleet/sdk';
      import * as browser from '@hexfleet/sdk/browser';
      console.log(JSON.stringify({ same: bare.DriverClient === browser.DriverClient }));`, ['--conditions=browser']);
    expect(cond.same).toBe(true);
  });

  it('type-checks a consumer against the packed declarations, without Node types, and catches a wrong call', async () => {
    await writeFile(join(sdk.app, 'consumer.ts'), `
      import { DriverClient, SdkError, TrackingClient, type DriverClientOptions, type OfferFrame, type OrderPositionFrame, type PingInput } from '@hexfleet/sdk';
      import { TrackingClient as BrowserTracking } from '@hexfleet/sdk/browser';
      const options: DriverClientOptions = { urls: ['wss://gw.example.com/v1/driver'], token: async () => 'jwt', encoding: 'msgpack' };
      const driver = new DriverClient(options);
      const fix: PingInput = { lat: 52.5, lng: 13.4, status: 'available' };
      const seq: number = driver.ping(fix);
      driver.onOffer((o: OfferFrame) => { void driver.accept(o.orderId).then((r: 'accepted' | 'rejected') => r); });
      driver.on('error', (e: SdkError) => { const retry: boolean = e.retry; void retry; });
      const tracking: BrowserTracking = new TrackingClient({ endpoints: ['https://eu.example.com'], token: 'jwt', WebSocket: globalThis.WebSocket });
      tracking.on('position', (p: OrderPositionFrame) => { const at: [number, number] = [p.lat, p.lng]; void at; });
      tracking.subscribe('o-1');
      export { seq };
    `);
    await writeFile(join(sdk.app, 'wrong.ts'), `
      import { DriverClient } from '@hexfleet/sdk';
      new DriverClient({ urls: ['ws://x/v1/driver'], token: 't' }).ping({ lat: '52.5', lng: 13.4 });
    `);
    // One program per resolution with both files: the consumer must compile clean and the wrong call must be
    // the one error. skipDefaultLibCheck skips checking lib.dom.d.ts itself (slow), not the packed declarations.
    const base = { strict: true, noEmit: true, skipLibCheck: false, skipDefaultLibCheck: true, target: 'ES2022', lib: ['ES2022', 'DOM'], types: [] as string[] };
    for (const [name, resolution] of [['tsconfig.nodenext.json', { module: 'NodeNext', moduleResolution: 'NodeNext' }], ['tsconfig.bundler.json', { module: 'ESNext', moduleResolution: 'Bundler' }]] as const) {
      await writeFile(join(sdk.app, name), JSON.stringify({ compilerOptions: { ...base, ...resolution }, files: ['consumer.ts', 'wrong.ts'] }));
      const { code, output } = await tsc(['-p', name, '--pretty', 'false'], sdk.app);
      const errors = output.split('\n').filter((l) => l.includes('error TS'));
      expect(code, output).not.toBe(0);
      expect(errors, `${name}: ${output}`).toHaveLength(1);
      expect(errors[0]).toMatch(/^wrong\.ts\(3,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
    }
  }, 120_000);

  it('bundles for browsers with esbuild (platform browser): msgpackr\'s browser build, no ws, no Node built-ins', async () => {
    const result = await build({
      stdin: { contents: "export { DriverClient, TrackingClient, SdkError } from '@hexfleet/sdk';", resolveDir: sdk.app, loader: 'js' },
      bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes('@hexfleet/sdk/dist/sdk/index.js'))).toBe(true);
    expect(inputs.filter((i) => /node_modules\/ws\/|node-index\.js$/.test(i))).toEqual([]);
    expect(inputs.filter((i) => i.includes('node_modules/msgpackr/'))).toContain(inputs.find((i) => i.endsWith('msgpackr/index.js')));
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/\bfrom\s*["'](node:)?(fs|net|tls|http|https|crypto|events|stream|buffer|os|path|url|util)["']|require\(["']/);

    // The same bundle for the Node entry under the browser platform would pull ws's browser stub: the browser
    // condition is what keeps it out, checked by building the node entry explicitly.
    const nodeEntry = await build({
      stdin: { contents: "export * from '@hexfleet/sdk';", resolveDir: sdk.app, loader: 'js' },
      bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent', external: ['ws', 'msgpackr'],
    });
    expect(Object.keys(nodeEntry.metafile.inputs).some((i) => i.endsWith('node-index.js'))).toBe(true);
  });

  it('package-lock.json is in step with the workspace: npm ci (dry run, offline) from a clean copy succeeds, and fails once the SDK asks for a dependency the lock lacks', async () => {
    const copy = join(sdk.dir, 'clean-copy');
    await mkdir(join(copy, 'packages/sdk'), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'packages/sdk/package.json']) await cp(join(REPO_ROOT, f), join(copy, f));
    const ci = () => run('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: copy, env: npmEnv });
    await ci();
    const pkg = JSON.parse(await readFile(join(copy, 'packages/sdk/package.json'), 'utf8'));
    await writeFile(join(copy, 'packages/sdk/package.json'), JSON.stringify({ ...pkg, dependencies: { ...pkg.dependencies, ws: '^99.0.0' } }));
    await expect(ci()).rejects.toThrow();
  });

  it('ships the repository\'s license and a README whose examples are the packed example files', async () => {
    const pkg = JSON.parse(await readFile(join(SDK_DIR, 'package.json'), 'utf8'));
    const root = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('Apache-2.0');
    expect(root.license).toBe(pkg.license);
    expect(await readFile(join(sdk.app, 'node_modules/@hexfleet/sdk/LICENSE'), 'utf8')).toBe(await readFile(join(REPO_ROOT, 'LICENSE'), 'utf8'));
    const readme = await readFile(join(sdk.app, 'node_modules/@hexfleet/sdk/README.md'), 'utf8');
    for (const example of ['driver-app.mjs', 'customer-app.mjs']) {
      const source = await readFile(join(sdk.app, 'node_modules/@hexfleet/sdk/examples', example), 'utf8');
      expect(readme, `README shows examples/${example} as it is`).toContain(`\`\`\`js\n${source}\`\`\``);
    }
  });
});

/** A child process with its output split into lines as they come. */
class Example {
  readonly lines: string[] = [];
  readonly errors: string[] = [];
  readonly proc: ChildProcess;

  constructor(file: string, cwd: string, env: Record<string, string>) {
    this.proc = spawn(process.execPath, [file], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    track(this.proc);
    split(this.proc.stdout!, this.lines);
    split(this.proc.stderr!, this.errors);
  }

  async line(pattern: RegExp, what: string): Promise<string> {
    await waitFor(() => this.lines.some((l) => pattern.test(l)), { what: `${what} (printed: ${JSON.stringify(this.lines.slice(-10))}, stderr: ${JSON.stringify(this.errors)})` });
    return this.lines.find((l) => pattern.test(l))!;
  }

  /** SIGTERM, as Ctrl-C or a process manager would stop it; resolves to its exit code. */
  async stop(): Promise<number | null> {
    await stopProcess(this.proc, 'SIGTERM');
    return this.proc.exitCode;
  }
}

function split(stream: NodeJS.ReadableStream, into: string[]): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    into.push(...parts);
  });
}

describe('@hexfleet/sdk examples against a real gateway', () => {
  const running: Example[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((e) => e.stop()));
    await stopAllGateways();
  });

  it('the driver app streams and accepts the offer; the customer app follows the order to completion; both stop on SIGTERM', async () => {
    const g = await TestGateway.start({ HEXFLEET_OFFER_TIMEOUT_MS: '600000' });
    // The examples run from the installed package (they import it by its own name), as a user would copy them.
    const examples = join(sdk.app, 'node_modules/@hexfleet/sdk/examples');
    const driverId = uniqueDriverId('sdk-pkg');
    const start = { lat: -34.1, lng: 18.45 };
    const pickup = { lat: -34.099, lng: 18.45 };
    const driver = new Example('driver-app.mjs', examples, {
      HEXFLEET_URL: g.httpUrl, DRIVER_TOKEN: await g.token('driver', driverId), START: `${start.lat},${start.lng}`,
    });
    running.push(driver);
    await driver.line(/^acked up to \d+$/, 'the driver app\'s first ack');
    expect(driver.lines[0]).toBe('state open');

    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const service = await g.serviceToken();
    const match = await httpRequest(g.port, 'POST', '/v1/match', { token: service, body: { orderId, pickup, radiusM: 3000 } });
    expect(match.status, match.text).toBe(200);
    expect(match.json).toMatchObject({ orderId, state: 'offered', driverId });
    expect(await driver.line(new RegExp(`^offer ${orderId}: pickup `), 'the offer printed')).toBe(`offer ${orderId}: pickup -34.099,18.45`);
    await driver.line(new RegExp(`^offer ${orderId} accepted$`), 'the offer accepted');

    const customer = new Example('customer-app.mjs', examples, {
      HEXFLEET_URL: g.httpUrl, ORDER_ID: orderId,
      CUSTOMER_TOKEN: await g.tokens.sign({ role: 'customer', sub: `c-${randomUUID().slice(0, 6)}`, orders: [orderId] }),
    });
    running.push(customer);
    await customer.line(new RegExp(`^status ${orderId} live$`), 'the order live');
    // The courier walks north: positions come as its pings do.
    await waitFor(() => customer.lines.filter((l) => l.startsWith(`position ${orderId} `)).length >= 2, { what: 'two positions of the courier', timeoutMs: 30_000 });
    const first = customer.lines.find((l) => l.startsWith(`position ${orderId} `))!;
    expect(first).toMatch(new RegExp(`^position ${orderId} -34\\.\\d+,18\\.45$`));

    const done = await httpRequest(g.port, 'POST', `/v1/orders/${orderId}/complete`, { token: service });
    expect(done.status, done.text).toBe(200);
    await customer.line(new RegExp(`^assignment ${orderId} completed ${driverId}$`), 'the completion');

    expect(driver.errors).toEqual([]);
    expect(customer.errors).toEqual([]);
    for (const e of running.splice(0)) {
      expect(await e.stop()).toBe(0);
      expect(e.lines.at(-1)).toBe('stopped');
    }
  });
});
