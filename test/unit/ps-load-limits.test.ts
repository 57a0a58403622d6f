/** How many `carga --transporte req` clients the open-file limit holds (solicitante/load.ts). */
import { describe, expect, it } from 'vitest';
import { MAX_CLIENTES, clientesReqQueCaben } from '../../solicitante/load.js';

const limits = (soft: string) =>
  ['Limit                     Soft Limit           Hard Limit           Units', 'Max processes             63459                63459                processes', `Max open files            ${soft}                ${soft}                files`].join('\n');

describe('clientesReqQueCaben', () => {
  it('leaves a reserve and the descriptors in use, and gives each client six', () => {
    // (1024 - 40 in use - 128 reserve) / 6 = 142.67
    expect(clientesReqQueCaben(limits('1024'), 40)).toBe(142);
    expect(clientesReqQueCaben(limits('20000'), 100)).toBe(3295);
  });

  it('never more than MAX_CLIENTES, never below 0', () => {
    expect(clientesReqQueCaben(limits('1048576'), 100)).toBe(MAX_CLIENTES);
    expect(clientesReqQueCaben(limits('unlimited'), 100)).toBe(MAX_CLIENTES);
    expect(clientesReqQueCaben(limits('64'), 40)).toBe(0);
  });

  it('an unknown limit (no /proc, another format) bounds by MAX_CLIENTES only', () => {
    expect(clientesReqQueCaben(undefined, 0)).toBe(MAX_CLIENTES);
    expect(clientesReqQueCaben('Max processes 10 10 processes', 0)).toBe(MAX_CLIENTES);
  });
});
