/** PLANIFICADOR's values (common/scheduling.ts): batch by default, normal, anything else refused by name. */
import { describe, expect, it } from 'vitest';
import { planificadorDe, schedulingWarning } from '../../common/scheduling.js';

describe('PLANIFICADOR', () => {
  it('defaults to batch, unset or empty', () => {
    expect(planificadorDe({})).toBe('batch');
    expect(planificadorDe({ PLANIFICADOR: '' })).toBe('batch');
  });

  it('accepts batch and normal', () => {
    expect(planificadorDe({ PLANIFICADOR: 'normal' })).toBe('normal');
    expect(planificadorDe({ PLANIFICADOR: 'batch' })).toBe('batch');
  });

  it('refuses any other value, naming the accepted ones', () => {
    expect(() => planificadorDe({ PLANIFICADOR: 'fifo' })).toThrow(/Invalid configuration: PLANIFICADOR: .*batch.*normal/);
  });

  it('warns only when the policy could not be applied', () => {
    expect(schedulingWarning({ planificador: 'batch', aplicado: true })).toBeUndefined();
    expect(schedulingWarning({ planificador: 'batch', aplicado: false, motivo: 'chrt no está instalado (util-linux)' })).toMatch(/no se pudo aplicar el planificador batch \(chrt no está instalado/);
  });
});
