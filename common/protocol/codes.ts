/**
 * Stable reply codes of the PS ⇄ GC protocol, grouped in classes like HTTP so
 * statistics can count them. Pure module: no I/O.
 */
export const SUCCESS_CODES = ['APROBADO', 'ACEPTADO', 'OK'] as const;

export const ERROR_CLASSES = {
  invalid: ['SOLICITUD_INVALIDA', 'OPERACION_DESCONOCIDA', 'DIVISION_POR_CERO', 'FUERA_DE_RANGO'],
  not_found: ['LIBRO_NO_EXISTE', 'PRESTAMO_NO_ENCONTRADO', 'OPERACION_NO_ENCONTRADA'],
  conflict: ['SIN_EJEMPLARES', 'PRESTAMO_ACTIVO', 'LIMITE_RENOVACIONES', 'ID_REUTILIZADO', 'TITULO_AMBIGUO'],
  unavailable: ['ALMACENAMIENTO_NO_DISPONIBLE', 'SIN_ACTORES', 'TIEMPO_AGOTADO'],
  internal: ['ERROR_INTERNO'],
} as const;

export type SuccessCode = (typeof SUCCESS_CODES)[number];
export type ErrorClass = keyof typeof ERROR_CLASSES;
export type ErrorCode = (typeof ERROR_CLASSES)[ErrorClass][number];
export type Codigo = SuccessCode | ErrorCode;

const classOf = new Map<string, ErrorClass>();
for (const [cls, codes] of Object.entries(ERROR_CLASSES) as [ErrorClass, readonly string[]][]) {
  for (const c of codes) classOf.set(c, cls);
}

export const ALL_CODES: readonly Codigo[] = [
  ...SUCCESS_CODES,
  ...Object.values(ERROR_CLASSES).flat(),
] as Codigo[];

export function isSuccessCode(c: string): c is SuccessCode {
  return (SUCCESS_CODES as readonly string[]).includes(c);
}

/** Class of an error code, or undefined for success codes. */
export function errorClass(c: string): ErrorClass | undefined {
  return classOf.get(c);
}

/** The HTTP status of each error class: the gateway answers with it and /errors/stats counts by it. */
export const HTTP_STATUS: Record<ErrorClass, number> = { invalid: 400, not_found: 404, conflict: 409, unavailable: 503, internal: 500 };

/** HTTP status for a reply code: its class's; 202 for ACEPTADO (recorded, not yet applied), 200 for other successes. */
export function httpStatusOf(c: string): number {
  const cls = classOf.get(c);
  if (cls) return HTTP_STATUS[cls];
  if (c === 'ACEPTADO') return 202;
  return isSuccessCode(c) ? 200 : 500;
}

/** Default user-facing message (Spanish) for each code. */
export const MENSAJES: Record<Codigo, string> = {
  APROBADO: 'Operación aplicada',
  ACEPTADO: 'Operación aceptada; se aplicará en breve',
  OK: 'Consulta atendida',
  SOLICITUD_INVALIDA: 'Solicitud inválida',
  OPERACION_DESCONOCIDA: 'Operación desconocida',
  DIVISION_POR_CERO: 'División por cero',
  FUERA_DE_RANGO: 'El resultado no cabe en un número de doble precisión',
  LIBRO_NO_EXISTE: 'El libro no existe en el catálogo',
  PRESTAMO_NO_ENCONTRADO: 'No hay un préstamo activo de ese libro para ese usuario',
  OPERACION_NO_ENCONTRADA: 'No hay ninguna operación con ese id',
  SIN_EJEMPLARES: 'No quedan ejemplares disponibles',
  PRESTAMO_ACTIVO: 'El usuario ya tiene un préstamo activo de ese libro',
  LIMITE_RENOVACIONES: 'El préstamo ya se renovó el máximo de veces',
  ID_REUTILIZADO: 'Esa clave de operación ya se usó para otra solicitud',
  TITULO_AMBIGUO: 'Varios libros tienen ese título; indique el ISBN',
  ALMACENAMIENTO_NO_DISPONIBLE: 'El almacenamiento no está disponible; reintente',
  SIN_ACTORES: 'No hay actores disponibles para la operación; reintente',
  TIEMPO_AGOTADO: 'La operación no terminó a tiempo; consulte su estado con su id',
  ERROR_INTERNO: 'Error interno',
};
