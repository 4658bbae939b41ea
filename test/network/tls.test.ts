import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoGenesis, demoHandle, demoIdentity } from '../../src/demo/index.js';
import { spawnNatsServer, whenListening } from '../../src/network/nats-cluster.js';
import { createNode, type MedchainNode, type NatsTls } from '../../src/node/index.js';
import { freePort } from '../helpers/cli-process.js';
import { generateIdentity } from '../../src/crypto/index.js';
import { admin, LEAD } from '../helpers/test-node.js';

/**
 * A node reaches the JetStream cluster over mutual TLS, as docs/OPERATIONS.md describes for a deployment across
 * machines: a consortium CA signs the servers' and the nodes' certificates; a server refuses clients without one.
 * Certificates are made with the openssl CLI; one nats-server (replicas 1) keeps the test short.
 */

const root = mkdtempSync(join(tmpdir(), 'medchain-tls-'));
const pem = (name: string) => join(root, `${name}.pem`);
let server: ChildProcess;
let url = '';
const opened: MedchainNode[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: root, stdio: 'pipe' });
}

/** A key and a certificate signed by the test CA, with the given subject alternative name. */
function issue(name: string, san: string, usage: 'serverAuth' | 'clientAuth'): void {
  writeFileSync(join(root, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', pem(`${name}-key`), '-out', join(root, `${name}.csr`), '-subj', `/CN=${name}`);
  openssl('x509', '-req', '-in', join(root, `${name}.csr`), '-CA', pem('ca'), '-CAkey', pem('ca-key'), '-CAcreateserial', '-days', '2', '-out', pem(name), '-extfile', join(root, `${name}.ext`));
}

async function open(dir: string, tls: NatsTls | undefined): Promise<MedchainNode> {
  const node = await createNode({
    dataDir: join(root, dir),
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(LEAD)),
    institution: LEAD,
    signatureWorkers: 0,
    logger: pino({ level: 'silent' }),
    sequencer: { kind: 'jetstream', servers: [url], replicas: 1, ...(tls ? { tls } : {}) },
  });
  opened.push(node);
  return node;
}

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', pem('ca-key'), '-out', pem('ca'), '-days', '2', '-subj', '/CN=MedChain test consortium CA');
  // The NATS client checks the server's certificate against the host name in the URL (not against an IP address).
  issue('nats', 'DNS:localhost', 'serverAuth');
  issue('node', 'DNS:county-hospital.node', 'clientAuth');
  const port = await freePort();
  const storeDir = join(root, 'jetstream');
  mkdirSync(storeDir);
  const configFile = join(root, 'nats.conf');
  writeFileSync(
    configFile,
    [
      `listen: "127.0.0.1:${port}"`,
      `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
      `tls { cert_file: ${JSON.stringify(pem('nats'))}, key_file: ${JSON.stringify(pem('nats-key'))}, ca_file: ${JSON.stringify(pem('ca'))}, verify: true, timeout: 2 }`,
      '',
    ].join('\n'),
  );
  const spec = { name: 'nats-tls', clientPort: port, clusterPort: 0, storeDir, configFile, logFile: join(root, 'nats.log') };
  server = spawnNatsServer(spec);
  await whenListening(server, spec);
  url = `tls://localhost:${port}`;
}, 30_000);

afterAll(async () => {
  for (const n of opened) await n.close().catch(() => undefined);
  server?.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
});

describe('JetStream over mutual TLS', () => {
  it('a node with a certificate from the consortium CA orders and commits blocks', async () => {
    const node = await open('with-cert', { caFile: pem('ca'), certFile: pem('node'), keyFile: pem('node-key') });
    const receipt = await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'reg-tls', name: 'r', roles: ['registrar'], key: generateIdentity().did }));
    expect(receipt.result, JSON.stringify(receipt.result)).toMatchObject({ status: 'ok' });
    expect(receipt.height).toBe(1);
    expect(node.status().sequencerStatus).toMatchObject({ connected: true, caughtUp: true });
  }, 30_000);

  it('the server refuses a node without a client certificate', async () => {
    await expect(open('no-cert', { caFile: pem('ca') })).rejects.toThrow();
  }, 30_000);

  it('the node refuses a server whose certificate no trusted CA signed', async () => {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', pem('other-ca-key'), '-out', pem('other-ca'), '-days', '2', '-subj', '/CN=Someone else');
    await expect(open('wrong-ca', { caFile: pem('other-ca'), certFile: pem('node'), keyFile: pem('node-key') })).rejects.toThrow();
  }, 30_000);
});
