/**
 * The passwords of a compose deployment's .env that `npm run claves` fills when
 * they are empty: PostgreSQL's superuser and replication role, Grafana's admin.
 * Never replaced once set: PostgreSQL writes its passwords into the database at
 * the first start, so a new value in .env would only lock the processes out.
 */
import { randomBytes } from 'node:crypto';
import dotenv from 'dotenv';

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
  // Read as Compose and the processes read it (quotes, inline comments): dotenv, not a regex of our own.
  const set = dotenv.parse(envText);
  const filled = DEPLOYMENT_PASSWORDS.filter((name) => !set[name]);
  const lines = envText === '' ? [] : envText.replace(/\n$/, '').split('\n');
  for (const name of filled) {
    const i = lines.findIndex((l) => new RegExp(`^[ \\t]*${name}[ \\t]*=`).test(l));
    if (i < 0) lines.push(`${name}=${make()}`);
    else lines[i] = `${name}=${make()}`;
  }
  return { text: `${lines.join('\n')}\n`, filled };
}
