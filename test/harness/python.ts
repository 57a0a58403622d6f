/**
 * The Python side of the original-client tests: an interpreter that imports zmq
 * (Debian's python3-zmq) and Debian's locust. Debian installs them for
 * /usr/bin/python3, which a pyenv or venv `python3` earlier on PATH does not see,
 * so that one is tried first.
 *
 * Missing tools are a failure, not a skip, where CI would have installed them
 * (root: `.ci/run` runs apt-get install python3-zmq python3-locust). Only a
 * non-root run, which cannot install them, skips — and says so on stderr.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const INSTALL = 'apt-get install -y python3-zmq python3-locust';

function importsZmq(python: string): boolean {
  const r = spawnSync(python, ['-c', 'import zmq, zmq.green'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

export interface PythonTools {
  python?: string;
  locust?: string;
  /** Why a tool is missing, for the skip/fail message. */
  missing?: string;
}

export function findPythonTools(): PythonTools {
  const python = ['/usr/bin/python3', 'python3'].find((p) => (p.startsWith('/') ? existsSync(p) : true) && importsZmq(p));
  const locust = ['/usr/bin/locust', 'locust'].find((l) => spawnSync(l, ['--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0);
  const missing = [python ? undefined : 'python3 with pyzmq (python3-zmq)', locust ? undefined : 'locust (python3-locust)'].filter(Boolean).join(' and ');
  return { python, locust, missing: missing || undefined };
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Whether to skip a test needing these tools: never as root (CI installs them, so their
 * absence must fail the test); as non-root, yes when missing, with the reason on stderr.
 */
export function skipWithoutPython(t: PythonTools, what: string): boolean {
  if (!t.missing) return false;
  if (isRoot) return false;
  process.stderr.write(`\n*** SKIPPED ${what}: ${t.missing} not found and not root to install it (${INSTALL}) ***\n\n`);
  return true;
}

/** For a root run without the tools: the error the test fails with. */
export function requireTool<T>(tool: T | undefined, t: PythonTools): T {
  if (tool === undefined) throw new Error(`${t.missing} not installed; .ci/run installs them (${INSTALL})`);
  return tool;
}
