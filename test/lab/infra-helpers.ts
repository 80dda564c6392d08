/**
 * Helpers for the lab's own infrastructure tests: a lab in a temp state dir, and two ways in —
 * the OpenSSH client (proves known_hosts and auth as users see them) and ssh2's Client.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ssh2 from 'ssh2';
import { labUp, type Lab, type LabUpOptions } from '../../lab/lab.ts';

export function tempStateDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'lab-infra-')), '.runbook');
}

/** A lab on free ports with a short reboot, so tests never collide or wait long; stop() also removes its temp dir. */
export async function testLab(options: LabUpOptions = {}): Promise<Lab> {
  const lab = await labUp({ stateDir: tempStateDir(), portBase: 0, rebootDownMs: 300, ...options });
  return {
    ...lab,
    stop: async () => {
      await lab.stop();
      rmSync(dirname(lab.stateDir), { recursive: true, force: true });
    },
  };
}

export function portOf(lab: Lab, host: string): number {
  const found = lab.hosts.find((h) => h.name === host);
  if (!found) throw new Error(`no host ${host}`);
  return found.port;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` with OpenSSH's client, strict host key checking against the lab's known_hosts. */
export function ssh(lab: Lab, host: string, command: string, options: { stdin?: string; keyPath?: string } = {}): Promise<SshResult> {
  const args = [
    '-o', `UserKnownHostsFile=${lab.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=5',
    '-i', options.keyPath ?? lab.keyPath,
    '-p', String(portOf(lab, host)),
    'root@127.0.0.1',
    command,
  ];
  return new Promise((resolve) => {
    const child = execFile('ssh', args, { timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 255) : 0;
      resolve({ code, stdout, stderr });
    });
    // ssh may exit before reading stdin (connection refused): that EPIPE is not the test's failure.
    child.stdin!.on('error', () => {});
    child.stdin!.end(options.stdin ?? '');
  });
}

/** An ssh2 connection to a lab host, checking the host key against the lab's own. */
export function connect(lab: Lab, host: string): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  const expected = lab.hosts.find((h) => h.name === host)!.hostKeyFingerprint;
  return new Promise((resolve, reject) => {
    client.on('ready', () => resolve(client));
    client.on('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: portOf(lab, host),
      username: 'root',
      privateKey: readFileSync(lab.keyPath),
      hostHash: 'sha256',
      hostVerifier: (hash: string) => `SHA256:${Buffer.from(hash, 'hex').toString('base64').replace(/=+$/, '')}` === expected,
      readyTimeout: 5000,
    });
  });
}

export interface ExecResult extends SshResult {
  signal?: string;
}

/** One exec channel on an ssh2 connection, with optional stdin. */
export function exec(client: ssh2.Client, command: string, stdin?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      let code = -1;
      let signal: string | undefined;
      channel.on('data', (d: Buffer) => (stdout += d));
      channel.stderr.on('data', (d: Buffer) => (stderr += d));
      channel.on('exit', (c: number | null, s?: string) => {
        code = c ?? -1;
        signal = s;
      });
      channel.on('close', () => resolve({ code, stdout, stderr, signal }));
      if (stdin !== undefined) channel.end(stdin);
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
