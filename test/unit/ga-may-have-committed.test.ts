/** Which PostgreSQL connection errors leave a write's outcome unknown (gestor_almacenamiento/db.ts). */
import { describe, expect, it } from 'vitest';
import { isConnectionError, mayHaveCommitted } from '../../gestor_almacenamiento/db.js';

const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe('mayHaveCommitted', () => {
  it('a connection that broke while the statement ran: maybe', () => {
    for (const e of [
      err('Connection terminated unexpectedly'),
      err('read ECONNRESET', 'ECONNRESET'),
      err('terminating connection due to administrator command', '57P01'),
      err('terminating connection because of crash of another server process', '57P02'),
      err('connection failure', '08006'),
    ]) {
      expect(isConnectionError(e), e.message).toBe(true);
      expect(mayHaveCommitted(e), e.message).toBe(true);
    }
  });

  it('nothing was sent, or the server refused or cancelled it: no', () => {
    for (const e of [
      err('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      err('the database system is starting up', '57P03'),
      err('sorry, too many clients already', '53300'),
      err('cannot execute UPDATE in a read-only transaction', '25006'),
      err('canceling statement due to statement timeout', '57014'),
      err('timeout exceeded when trying to connect'),
      err('Client has encountered a connection error and is not queryable'),
      err('Cannot use a pool after calling end on the pool'),
    ]) {
      expect(isConnectionError(e), e.message).toBe(true);
      expect(mayHaveCommitted(e), e.message).toBe(false);
    }
  });

  it('not a connection error at all: no', () => {
    expect(mayHaveCommitted(err('duplicate key value violates unique constraint', '23505'))).toBe(false);
    expect(mayHaveCommitted(undefined)).toBe(false);
  });
});
