/**
 * Who holds which CURVE key pair in a deployment, and who admits whom.
 *
 * One key pair per identity: each GC (`gc-pc1`, `gc-pc2`), each GA (`ga-pc1`,
 * `ga-pc2`) and the actors of each host (`actores-pc1` … `actores-pc3`: the
 * actors of one host share a key, so revoking a host's actors is one key). The
 * allow-lists follow the traffic:
 *   GC PUB and backend  ← every host's actors
 *   GA socket           ← every GC and every host's actors
 *   GA peer heartbeat   ← the other GA only
 *
 * Used by `npm run claves` (the compose deployment's .env) and by the local
 * launcher's `--seguro` (fresh keys every start). Pure but for the randomness of
 * newCurveKeyPair.
 */
import dotenv from 'dotenv';
import { newCurveKeyPair, type CurveKeyPair } from '../../common/curve-keys.js';

/** The identities of the pc1/pc2/pc3 compose deployment. */
export const DEPLOYMENT_IDENTITIES = ['gc-pc1', 'gc-pc2', 'ga-pc1', 'ga-pc2', 'actores-pc1', 'actores-pc2', 'actores-pc3'] as const;

export type DeploymentKeys = ReadonlyMap<string, CurveKeyPair>;

export function generateKeys(identities: readonly string[]): Map<string, CurveKeyPair> {
  return new Map(identities.map((id) => [id, newCurveKeyPair()]));
}

/** `gc-pc1` → `CURVE_GC_PC1` (the prefix of its two .env variables). */
export function envPrefix(identity: string): string {
  return `CURVE_${identity.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/**
 * The .env block of a deployment's keys: `<prefix>_PUBLIC` and `<prefix>_SECRET`
 * per identity. Values in single quotes: Z85 has `$` and `#`, which Compose and
 * dotenv read literally only there.
 */
export function envBlock(keys: DeploymentKeys, when = new Date()): string {
  const lines = [
    `# CURVE keys of this deployment (npm run claves, ${when.toISOString()}).`,
    '# The same .env on every host; it holds SECRET keys: keep it private (mode 0600), never commit it.',
  ];
  for (const [id, k] of keys) {
    const p = envPrefix(id);
    lines.push(`${p}_PUBLIC='${k.publicKey}'`, `${p}_SECRET='${k.secretKey}'`);
  }
  return `${lines.join('\n')}\n`;
}

/** Names of the .env variables a key block defines. */
export function envBlockVariables(identities: readonly string[]): string[] {
  return identities.flatMap((id) => [`${envPrefix(id)}_PUBLIC`, `${envPrefix(id)}_SECRET`]);
}

/**
 * Replaces (or adds) the key block in a .env text: every line defining a
 * CURVE_* variable or belonging to an earlier block's comment goes, the new block
 * is appended. Other lines stay as they are.
 */
export function withKeyBlock(envText: string, block: string): string {
  const kept = envText
    .split('\n')
    // `export CURVE_…=` is a definition too (dotenv reads it): left in, an old key would shadow nothing but confuse.
    .filter((l) => !/^\s*(?:export\s+)?CURVE_[A-Z0-9_]+\s*=/.test(l) && !/^# CURVE keys of this deployment|^# The same \.env on every host; it holds SECRET keys/.test(l));
  while (kept.length > 0 && kept[kept.length - 1]!.trim() === '') kept.pop();
  return `${kept.length ? `${kept.join('\n')}\n\n` : ''}${block}`;
}

/** Whether a .env text already defines CURVE keys (non-empty), as dotenv reads it (`export` prefix and quotes included). */
export function hasKeys(envText: string): boolean {
  return Object.entries(dotenv.parse(envText)).some(([k, v]) => /^CURVE_[A-Z0-9_]+_SECRET$/.test(k) && v.trim() !== '');
}

interface HostsLayout {
  gcs: readonly string[];
  gas: readonly string[];
  actorHosts: readonly string[];
}

/** The process environment of each role (ZMQ_CURVE and keys), for a layout of hosts. */
export function curveEnv(keys: DeploymentKeys, layout: HostsLayout) {
  const key = (id: string) => {
    const k = keys.get(id);
    if (!k) throw new Error(`no key pair for ${id}`);
    return k;
  };
  const actorKeys = layout.actorHosts.map((h) => key(`actores-${h}`).publicKey);
  const gcKeys = layout.gcs.map((h) => key(`gc-${h}`).publicKey);
  const gaKeys = layout.gas.map((h) => key(`ga-${h}`).publicKey);
  return {
    /** A GC on host h (GA_CURVE_SERVER_KEYS in the order of `gas`). */
    gc: (h: string) => ({ ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: key(`gc-${h}`).secretKey, GC_CURVE_CLIENTS: actorKeys.join(','), GA_CURVE_SERVER_KEYS: gaKeys.join(',') }),
    /** An actor on host h (GC_CURVE_SERVER_KEYS in the order of `gcs`). */
    actor: (h: string) => ({ ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: key(`actores-${h}`).secretKey, GC_CURVE_SERVER_KEYS: gcKeys.join(','), GA_CURVE_SERVER_KEYS: gaKeys.join(',') }),
    /** A GA on host h; its peer is the other GA of `gas` (if any). */
    ga: (h: string) => {
      const peer = layout.gas.find((g) => g !== h);
      return {
        ZMQ_CURVE: 'on',
        ZMQ_CURVE_SECRET_KEY: key(`ga-${h}`).secretKey,
        GA_CURVE_CLIENTS: [...gcKeys, ...actorKeys].join(','),
        ...(peer ? { GA_PEER_CURVE_KEY: key(`ga-${peer}`).publicKey } : {}),
      };
    },
  };
}
