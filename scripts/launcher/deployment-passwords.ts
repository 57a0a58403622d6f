/**
 * The passwords of a compose deployment's .env that `npm run claves` fills when
 * they are empty: PostgreSQL's superuser and replication role, Grafana's admin.
 * Never replaced once set: PostgreSQL writes its passwords into the database at
 * the first start, so a new value in .env would only lock the processes out.
 */
import { randomBytes } from 'node:crypto';

export const DEPLOYMENT_PASSWORDS = ['DB_PASSWORD', 'DB_REPLICATION_PASSWORD', 'GRAFANA_ADMIN_PASSWORD'] as const;

/** 32 random bytes, base64url: no character that dotenv, Compose or a connection URL reads specially. */
export function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * A .env text with every empty or missing password of DEPLOYMENT_PASSWORDS set (in
 * place when its line exists, appended otherwise), and the names it set. Set ones stay.
 */
export function withPasswords(envText: string, make = newPassword): { text: string; filled: string[] } {
  const lines = envText.split('\n');
  const filled: string[] = [];
  for (const name of DEPLOYMENT_PASSWORDS) {
    const line = new RegExp(`^[ \\t]*${name}[ \\t]*=(.*)$`);
    const i = lines.findIndex((l) => line.test(l));
    const value = i < 0 ? '' : line.exec(lines[i]!)![1]!.replace(/#.*$/, '').trim().replace(/^(['"])(.*)\1$/, '$2');
    if (value !== '') continue;
    filled.push(name);
    if (i < 0) lines.splice(lines.length && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length, 0, `${name}=${make()}`);
    else lines[i] = `${name}=${make()}`;
  }
  return { text: lines.join('\n'), filled };
}
