/**
 * The docker CLI, as the container drills use it: one command at a time, its
 * stdout back, its stderr in the error. DOCKER_HOST comes from the environment
 * (motor.sh asegurar prints the one to use).
 */
import { execFile } from 'node:child_process';

export class DockerError extends Error {
  override name = 'DockerError';
}

/** `stderr`: append the command's stderr to its stdout (docker logs writes a container's stderr there). */
export function docker(args: string[], o: { cwd?: string; timeoutMs?: number; stderr?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { cwd: o.cwd, timeout: o.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new DockerError(`docker ${args.join(' ')}: ${(stderr || err.message).trim().split('\n').slice(-5).join(' | ')}`));
      else resolve(o.stderr ? stdout + stderr : stdout);
    });
  });
}

export interface ContainerState {
  running: boolean;
  status: string;
  health?: string;
  restartCount: number;
  startedAt: string;
}

export async function inspect(name: string): Promise<ContainerState | undefined> {
  try {
    const out = await docker(['inspect', '--format', '{{json .State}}|{{.RestartCount}}', name], { timeoutMs: 10_000 });
    const [json, restarts] = out.trim().split('|');
    const s = JSON.parse(json!) as { Running: boolean; Status: string; StartedAt: string; Health?: { Status: string } };
    return { running: s.Running, status: s.Status, health: s.Health?.Status, restartCount: Number(restarts), startedAt: s.StartedAt };
  } catch {
    return undefined;
  }
}
