/**
 * Why a file could not be read or written, in the users' language: "no existe", not
 * "ENOENT: no such file or directory". The code stays in brackets for a search.
 */
const WHY: Record<string, string> = {
  ENOENT: 'no existe',
  EACCES: 'sin permiso',
  EPERM: 'sin permiso',
  EISDIR: 'es un directorio',
  ENOTDIR: 'una parte de la ruta no es un directorio',
  ENOSPC: 'no queda espacio en el disco',
  EROFS: 'sistema de ficheros de solo lectura',
  EEXIST: 'ya existe un fichero con ese nombre',
};

export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && WHY[code]) return `${WHY[code]} [${code}]`;
  return code ?? (err instanceof Error ? err.message : String(err));
}
