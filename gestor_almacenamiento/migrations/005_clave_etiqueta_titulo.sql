-- Original clients of the system this one replaces, and this project's own PS, in one protocol:
--
-- * The ledger's `id` is the op's KEY (the request's `clave`, or one the GC made
--   for a request without it). `etiqueta` keeps the client's own `id`, a label that
--   original clients reuse for different and repeated operations: it identifies
--   nothing, but `estado` by a label answers the latest op sent with it.
-- * A devolución (or renovación) recorded for later (async mode) is refused at once,
--   PRESTAMO_NO_ENCONTRADO, when the user has no active loan of the book and no
--   préstamo of it is pending: ACEPTADO would promise an op that can only be refused.
-- * Books can be named by title: exact match with case, accents and runs of
--   blanks ignored (titulo_clave); one match or a clear code.

ALTER TABLE operaciones ADD COLUMN etiqueta text;
CREATE INDEX operaciones_etiqueta ON operaciones (etiqueta, creada DESC) WHERE etiqueta IS NOT NULL;

-- ------------------------------------------------------------------ titles

-- The comparison key of a title: NFD with the combining accents (U+0300–U+036F) taken
-- out, blanks collapsed, lower case by Unicode rules (pg_c_utf8 does not depend on
-- the database's locale, so every node and container compares alike).
CREATE FUNCTION titulo_clave(p_titulo text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(regexp_replace(normalize(btrim(regexp_replace(p_titulo, '\s+', ' ', 'g')), NFD), '[\u0300-\u036f]', '', 'g') COLLATE pg_c_utf8)
$$;
CREATE INDEX libros_titulo_clave ON libros (titulo_clave(titulo));

-- Availability of the one book with this title, as consultar_libro; no match:
-- LIBRO_NO_EXISTE; several: TITULO_AMBIGUO with (at most 10) candidates.
CREATE FUNCTION consultar_titulo(p_titulo text) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_isbns text[];
  v_candidatos jsonb;
BEGIN
  SELECT array_agg(l.isbn ORDER BY l.isbn), jsonb_agg(jsonb_build_object('isbn', l.isbn, 'titulo', l.titulo, 'autor', l.autor) ORDER BY l.isbn)
    INTO v_isbns, v_candidatos
    FROM (SELECT isbn, titulo, autor FROM libros WHERE titulo_clave(titulo) = titulo_clave(p_titulo) ORDER BY isbn LIMIT 11) l;
  IF v_isbns IS NULL THEN
    RETURN resultado_json(NULL, 'consulta', NULL, 'LIBRO_NO_EXISTE', format('No hay ningún libro con el título «%s»', p_titulo),
                          jsonb_build_object('titulo', p_titulo));
  END IF;
  IF cardinality(v_isbns) > 1 THEN
    RETURN resultado_json(NULL, 'consulta', NULL, 'TITULO_AMBIGUO',
      format('Hay %s libros con el título «%s»; indique el ISBN',
             CASE WHEN cardinality(v_isbns) > 10 THEN 'más de 10' ELSE cardinality(v_isbns)::text END, p_titulo),
      jsonb_build_object('titulo', p_titulo, 'candidatos', jsonb_path_query_array(v_candidatos, '$[0 to 9]')));
  END IF;
  RETURN consultar_libro(v_isbns[1]);
END $$;

-- ------------------------------------------------------------------ ledger

CREATE OR REPLACE FUNCTION resultado_id_reutilizado(p_id text, p_operacion text, p_registrada text) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT resultado_json(p_id, p_operacion, 'RECHAZADA', 'ID_REUTILIZADO',
    format('La clave %s ya se usó para otra solicitud (%s); use una clave nueva', p_id, p_registrada),
    jsonb_build_object('operacionRegistrada', p_registrada))
$$;

-- Replaced by the versions with p_etiqueta below (an extra defaulted parameter would
-- make every five-argument call ambiguous).
DROP FUNCTION aplicar_operacion(text, text, text, text, text);
DROP FUNCTION registrar_operacion(text, text, text, text, text);

-- As in 002, plus the client's label. `creada` is the clock, not the transaction
-- start: ops of one batch share a transaction, and "the latest op with this label"
-- must still tell them apart.
CREATE FUNCTION aplicar_operacion(p_id text, p_operacion text, p_isbn text, p_usuario text, p_sede text DEFAULT NULL, p_etiqueta text DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op operaciones%ROWTYPE;
  v_res jsonb;
BEGIN
  INSERT INTO operaciones (id, operacion, isbn, usuario, sede, etiqueta, estado, creada)
  VALUES (p_id, p_operacion, p_isbn, p_usuario, p_sede, p_etiqueta, 'PENDIENTE', clock_timestamp())
  ON CONFLICT (id) DO NOTHING;
  -- A row we just inserted is invisible to others until we commit (a concurrent
  -- insert of the same id waits on it), so only an existing row needs the lock.
  IF NOT FOUND THEN
    SELECT * INTO v_op FROM operaciones WHERE id = p_id FOR UPDATE;
    IF (v_op.operacion, v_op.isbn, v_op.usuario) IS DISTINCT FROM (p_operacion, p_isbn, p_usuario) THEN
      RETURN resultado_id_reutilizado(p_id, p_operacion, v_op.operacion);
    END IF;
    IF v_op.estado <> 'PENDIENTE' THEN
      RETURN v_op.resultado;
    END IF;
  END IF;
  v_res := CASE p_operacion
             WHEN 'prestamo'   THEN regla_prestamo(p_id, p_isbn, p_usuario)
             WHEN 'renovacion' THEN regla_renovacion(p_id, p_isbn, p_usuario)
             WHEN 'devolucion' THEN regla_devolucion(p_id, p_isbn, p_usuario)
           END;
  IF v_res IS NULL THEN
    RAISE EXCEPTION 'operación desconocida: %', p_operacion USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE operaciones
     SET estado = v_res->>'estado', resultado = v_res, actualizada = now(), intentos = intentos + 1
   WHERE id = p_id;
  RETURN v_res;
END $$;

-- True when an op on this loan can only be refused whenever it is applied: no active
-- loan, and no préstamo of it waiting in the ledger (async préstamo mode) to make one.
CREATE FUNCTION sin_prestamo_posible(p_isbn text, p_usuario text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
  SELECT NOT EXISTS (SELECT 1 FROM prestamos WHERE isbn = p_isbn AND usuario = p_usuario AND estado = 'ACTIVO')
     AND NOT EXISTS (SELECT 1 FROM operaciones WHERE estado = 'PENDIENTE' AND operacion = 'prestamo' AND isbn = p_isbn AND usuario = p_usuario)
$$;

-- Durably records op `p_id` as PENDIENTE (async mode). Returns ACEPTADO while it is
-- pending, the final outcome once applied, ID_REUTILIZADO on a mismatch. A devolución
-- or renovación with no loan to act on is recorded RECHAZADA at once (the same
-- outcome its rule would give when applied) instead of being accepted.
CREATE FUNCTION registrar_operacion(p_id text, p_operacion text, p_isbn text, p_usuario text, p_sede text DEFAULT NULL, p_etiqueta text DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op operaciones%ROWTYPE;
  v_res jsonb;
BEGIN
  INSERT INTO operaciones (id, operacion, isbn, usuario, sede, etiqueta, estado, creada)
  VALUES (p_id, p_operacion, p_isbn, p_usuario, p_sede, p_etiqueta, 'PENDIENTE', clock_timestamp())
  ON CONFLICT (id) DO NOTHING;
  IF FOUND THEN
    IF p_operacion IN ('devolucion', 'renovacion') AND sin_prestamo_posible(p_isbn, p_usuario) THEN
      v_res := resultado_final(p_id, p_operacion, 'PRESTAMO_NO_ENCONTRADO',
        format('El usuario %s no tiene un préstamo activo del libro %s', p_usuario, p_isbn),
        jsonb_build_object('isbn', p_isbn, 'usuario', p_usuario));
      UPDATE operaciones
         SET estado = 'RECHAZADA', resultado = v_res, actualizada = now(), intentos = intentos + 1
       WHERE id = p_id;
      RETURN v_res;
    END IF;
    RETURN resultado_aceptado(p_id, p_operacion);
  END IF;
  SELECT * INTO v_op FROM operaciones WHERE id = p_id;
  IF (v_op.operacion, v_op.isbn, v_op.usuario) IS DISTINCT FROM (p_operacion, p_isbn, p_usuario) THEN
    RETURN resultado_id_reutilizado(p_id, p_operacion, v_op.operacion);
  END IF;
  IF v_op.estado = 'PENDIENTE' THEN
    RETURN resultado_aceptado(p_id, p_operacion);
  END IF;
  RETURN v_op.resultado;
END $$;

-- As in 004, passing each op's label on.
CREATE OR REPLACE FUNCTION aplicar_lote(p_ops jsonb, p_esperar boolean, p_espera_max_ms integer) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_isbns text[] := ARRAY(SELECT DISTINCT e->>'isbn' FROM jsonb_array_elements(p_ops) e);
  v_bloqueados text[];
  v_ocupados text[] := '{}';
  v_op record;
  -- Pre-sized: ops are filled in lock order, not in array order.
  v_out jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_ops)]);
BEGIN
  PERFORM set_config('lock_timeout', p_espera_max_ms || 'ms', true);
  IF p_esperar THEN
    SELECT coalesce(array_agg(isbn), '{}') INTO v_bloqueados
      FROM (SELECT isbn FROM libros WHERE isbn = ANY (v_isbns) ORDER BY isbn FOR UPDATE) l;
  ELSE
    SELECT coalesce(array_agg(isbn), '{}') INTO v_bloqueados
      FROM (SELECT isbn FROM libros WHERE isbn = ANY (v_isbns) ORDER BY isbn FOR UPDATE SKIP LOCKED) l;
    -- Existing but not locked by us: held by another transaction (or committed just now).
    v_ocupados := ARRAY(SELECT isbn FROM libros WHERE isbn = ANY (v_isbns) AND NOT isbn = ANY (v_bloqueados));
  END IF;
  FOR v_op IN
    SELECT e->>'cmd' AS cmd, e->>'id' AS id, e->>'operacion' AS operacion, e->>'isbn' AS isbn,
           e->>'usuario' AS usuario, e->>'sede' AS sede, e->>'etiqueta' AS etiqueta, ord
      FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(e, ord)
     ORDER BY e->>'isbn', CASE WHEN e->>'isbn' = ANY (v_bloqueados) THEN ord END, e->>'id', ord
  LOOP
    CONTINUE WHEN v_op.isbn = ANY (v_ocupados);
    v_out[v_op.ord] := CASE v_op.cmd
      WHEN 'aplicar'   THEN aplicar_operacion(v_op.id, v_op.operacion, v_op.isbn, v_op.usuario, v_op.sede, v_op.etiqueta)
      WHEN 'registrar' THEN registrar_operacion(v_op.id, v_op.operacion, v_op.isbn, v_op.usuario, v_op.sede, v_op.etiqueta)
    END;
    IF v_out[v_op.ord] IS NULL THEN
      RAISE EXCEPTION 'orden de lote desconocida: %', v_op.cmd USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN to_jsonb(v_out);
END $$;

-- ------------------------------------------------------------------ queries

-- `p_id` is an op's key, else a client label: then the latest op sent with it.
-- datos carries both (`clave`, `etiqueta`) so the reply says which op answered.
CREATE OR REPLACE FUNCTION estado_operacion(p_id text) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT resultado_json(o.id, 'estado', NULL, 'OK', format('La operación %s está %s', o.id, o.estado),
              jsonb_strip_nulls(jsonb_build_object('estado', o.estado, 'operacion', o.operacion, 'isbn', o.isbn,
                                                   'usuario', o.usuario, 'sede', o.sede, 'clave', o.id, 'etiqueta', o.etiqueta)) ||
              jsonb_build_object('resultado', o.resultado))
       FROM ((SELECT k.*, 0 AS prioridad FROM operaciones k WHERE k.id = p_id)
             UNION ALL
             (SELECT e.*, 1 FROM operaciones e WHERE e.etiqueta = p_id ORDER BY e.creada DESC, e.id DESC LIMIT 1)) o
      ORDER BY o.prioridad
      LIMIT 1),
    resultado_json(p_id, 'estado', NULL, 'OPERACION_NO_ENCONTRADA', format('No hay ninguna operación con clave o id %s', p_id), '{}'::jsonb))
$$;

-- As in 002, with each op's label.
CREATE OR REPLACE FUNCTION listar_pendientes(p_limite integer) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(p.item ORDER BY p.creada, p.id), '[]'::jsonb)
    FROM (SELECT o.creada, o.id,
                 jsonb_build_object(
                   'op', jsonb_strip_nulls(jsonb_build_object('operacion', o.operacion, 'isbn', o.isbn,
                                                              'usuario', o.usuario, 'id', o.id, 'sede', o.sede,
                                                              'etiqueta', o.etiqueta)),
                   'registrada', iso_utc(o.creada),
                   'intentos', o.intentos) AS item
            FROM operaciones o
           WHERE o.estado = 'PENDIENTE'
           ORDER BY o.creada, o.id
           LIMIT p_limite) p
$$;
