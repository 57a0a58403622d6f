-- Schema of the library: catalog, loans and the operations ledger.
-- The business constants live in the regla_* functions below, and only there:
-- constraints and the operation functions (002) both call them.

CREATE FUNCTION regla_dias_prestamo() RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 14 $$;
CREATE FUNCTION regla_dias_renovacion() RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 7 $$;
CREATE FUNCTION regla_max_renovaciones() RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 2 $$;

CREATE TABLE libros (
  isbn        text PRIMARY KEY,
  titulo      text NOT NULL,
  autor       text NOT NULL,
  total       integer NOT NULL CHECK (total >= 0),
  disponibles integer NOT NULL,
  CONSTRAINT libros_disponibles_rango CHECK (disponibles >= 0 AND disponibles <= total)
);

CREATE TABLE prestamos (
  id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  isbn                      text NOT NULL REFERENCES libros (isbn),
  usuario                   text NOT NULL,
  estado                    text NOT NULL DEFAULT 'ACTIVO' CHECK (estado IN ('ACTIVO', 'DEVUELTO')),
  fecha_prestamo            timestamptz NOT NULL,
  fecha_devolucion_prevista timestamptz NOT NULL,
  fecha_devolucion          timestamptz,
  renovaciones              integer NOT NULL DEFAULT 0,
  -- the ledger op that created the loan, for audits
  op_id                     text,
  CONSTRAINT prestamos_renovaciones_rango CHECK (renovaciones >= 0 AND renovaciones <= regla_max_renovaciones()),
  CONSTRAINT prestamos_devuelto_fecha CHECK ((estado = 'DEVUELTO') = (fecha_devolucion IS NOT NULL))
);
-- At most one ACTIVE loan per (isbn, usuario); also the lookup path of renovación/devolución.
CREATE UNIQUE INDEX prestamos_activo_unico ON prestamos (isbn, usuario) WHERE estado = 'ACTIVO';

-- The ledger: one row per op id, PENDIENTE -> COMPLETADA | RECHAZADA, with the
-- outcome exactly as returned, so a repeated id returns it unchanged.
CREATE TABLE operaciones (
  id          text PRIMARY KEY,
  operacion   text NOT NULL CHECK (operacion IN ('prestamo', 'devolucion', 'renovacion')),
  isbn        text NOT NULL,
  usuario     text NOT NULL,
  sede        text,
  estado      text NOT NULL CHECK (estado IN ('PENDIENTE', 'COMPLETADA', 'RECHAZADA')),
  resultado   jsonb,
  creada      timestamptz NOT NULL DEFAULT now(),
  actualizada timestamptz NOT NULL DEFAULT now(),
  intentos    integer NOT NULL DEFAULT 0,
  CONSTRAINT operaciones_final_con_resultado CHECK (estado = 'PENDIENTE' OR resultado IS NOT NULL)
);
-- Small partial index: the GC lists what is still pending, oldest first.
CREATE INDEX operaciones_pendientes ON operaciones (creada, id) WHERE estado = 'PENDIENTE';
