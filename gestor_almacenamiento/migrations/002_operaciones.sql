-- The library's rules as PL/pgSQL functions: the GA calls each with ONE round
-- trip, and each call is one transaction that locks the rows it changes.
-- Lock order is always libros -> prestamos -> (own ledger row), so concurrent
-- operations cannot deadlock. Results are JSON objects shaped exactly like
-- `resultadoSchema` (common/protocol.ts).

-- ISO-8601 UTC with milliseconds, the same text as JavaScript's Date#toISOString.
CREATE FUNCTION iso_utc(t timestamptz) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Builds one Resultado. `exito` follows the protocol's success codes; id,
-- operacion and estado are left out when null (read-only queries carry no estado).
CREATE FUNCTION resultado_json(p_id text, p_operacion text, p_estado text, p_codigo text, p_mensaje text, p_datos jsonb)
  RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('id', p_id, 'operacion', p_operacion, 'estado', p_estado))
      || jsonb_build_object(
           'exito', p_codigo IN ('APROBADO', 'ACEPTADO', 'OK'),
           'codigo', p_codigo,
           'mensaje', p_mensaje,
           'datos', coalesce(p_datos, '{}'::jsonb),
           'fechaOperacion', iso_utc(now()))
$$;

-- Final outcome of a state-changing op: COMPLETADA when approved, else RECHAZADA.
CREATE FUNCTION resultado_final(p_id text, p_operacion text, p_codigo text, p_mensaje text, p_datos jsonb)
  RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT resultado_json(p_id, p_operacion, CASE WHEN p_codigo = 'APROBADO' THEN 'COMPLETADA' ELSE 'RECHAZADA' END,
                        p_codigo, p_mensaje, p_datos)
$$;

-- ------------------------------------------------------------------ rules
-- Each rule function runs inside aplicar_operacion's transaction and returns
-- the final Resultado; it never touches the ledger.

CREATE FUNCTION regla_prestamo(p_id text, p_isbn text, p_usuario text) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_disponibles integer;
  v_vence timestamptz;
  v_datos jsonb := jsonb_build_object('isbn', p_isbn, 'usuario', p_usuario);
BEGIN
  -- The book row lock serialises every loan of this ISBN: the last copy is lent once.
  SELECT disponibles INTO v_disponibles FROM libros WHERE isbn = p_isbn FOR UPDATE;
  IF NOT FOUND THEN
    RETURN resultado_final(p_id, 'prestamo', 'LIBRO_NO_EXISTE', format('El libro %s no existe en el catálogo', p_isbn), v_datos);
  END IF;
  IF EXISTS (SELECT 1 FROM prestamos WHERE isbn = p_isbn AND usuario = p_usuario AND estado = 'ACTIVO') THEN
    RETURN resultado_final(p_id, 'prestamo', 'PRESTAMO_ACTIVO',
      format('El usuario %s ya tiene un préstamo activo del libro %s', p_usuario, p_isbn), v_datos);
  END IF;
  IF v_disponibles <= 0 THEN
    RETURN resultado_final(p_id, 'prestamo', 'SIN_EJEMPLARES', format('No quedan ejemplares disponibles del libro %s', p_isbn),
      v_datos || jsonb_build_object('disponibles', v_disponibles));
  END IF;
  UPDATE libros SET disponibles = disponibles - 1 WHERE isbn = p_isbn RETURNING disponibles INTO v_disponibles;
  INSERT INTO prestamos (isbn, usuario, estado, fecha_prestamo, fecha_devolucion_prevista, op_id)
  VALUES (p_isbn, p_usuario, 'ACTIVO', now(), now() + make_interval(days => regla_dias_prestamo()), p_id)
  RETURNING fecha_devolucion_prevista INTO v_vence;
  RETURN resultado_final(p_id, 'prestamo', 'APROBADO',
    format('Préstamo aprobado; devuélvalo antes del %s', to_char(v_vence AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
    v_datos || jsonb_build_object('fechaDevolucion', iso_utc(v_vence), 'disponibles', v_disponibles, 'renovaciones', 0));
END $$;

CREATE FUNCTION regla_renovacion(p_id text, p_isbn text, p_usuario text) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_p prestamos%ROWTYPE;
  v_datos jsonb := jsonb_build_object('isbn', p_isbn, 'usuario', p_usuario);
BEGIN
  -- A concurrent devolución that wins the lock makes this row no longer ACTIVO:
  -- FOR UPDATE re-checks the condition and finds nothing, as it should.
  SELECT * INTO v_p FROM prestamos WHERE isbn = p_isbn AND usuario = p_usuario AND estado = 'ACTIVO' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN resultado_final(p_id, 'renovacion', 'PRESTAMO_NO_ENCONTRADO',
      format('El usuario %s no tiene un préstamo activo del libro %s', p_usuario, p_isbn), v_datos);
  END IF;
  IF v_p.renovaciones >= regla_max_renovaciones() THEN
    RETURN resultado_final(p_id, 'renovacion', 'LIMITE_RENOVACIONES',
      format('El préstamo ya se renovó %s veces, el máximo permitido', v_p.renovaciones),
      v_datos || jsonb_build_object('fechaDevolucion', iso_utc(v_p.fecha_devolucion_prevista), 'renovaciones', v_p.renovaciones));
  END IF;
  -- The new due date counts from the CURRENT due date, not from today.
  UPDATE prestamos
     SET renovaciones = renovaciones + 1,
         fecha_devolucion_prevista = fecha_devolucion_prevista + make_interval(days => regla_dias_renovacion())
   WHERE id = v_p.id
   RETURNING * INTO v_p;
  RETURN resultado_final(p_id, 'renovacion', 'APROBADO',
    format('Préstamo renovado; nueva fecha de devolución %s', to_char(v_p.fecha_devolucion_prevista AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
    v_datos || jsonb_build_object('fechaDevolucion', iso_utc(v_p.fecha_devolucion_prevista), 'renovaciones', v_p.renovaciones));
END $$;

CREATE FUNCTION regla_devolucion(p_id text, p_isbn text, p_usuario text) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_p prestamos%ROWTYPE;
  v_disponibles integer;
  v_datos jsonb := jsonb_build_object('isbn', p_isbn, 'usuario', p_usuario);
BEGIN
  -- Book first, then loan: the same lock order as regla_prestamo.
  PERFORM 1 FROM libros WHERE isbn = p_isbn FOR UPDATE;
  IF FOUND THEN
    SELECT * INTO v_p FROM prestamos WHERE isbn = p_isbn AND usuario = p_usuario AND estado = 'ACTIVO' FOR UPDATE;
  END IF;
  IF v_p.id IS NULL THEN
    RETURN resultado_final(p_id, 'devolucion', 'PRESTAMO_NO_ENCONTRADO',
      format('El usuario %s no tiene un préstamo activo del libro %s', p_usuario, p_isbn), v_datos);
  END IF;
  UPDATE prestamos SET estado = 'DEVUELTO', fecha_devolucion = now() WHERE id = v_p.id;
  UPDATE libros SET disponibles = disponibles + 1 WHERE isbn = p_isbn RETURNING disponibles INTO v_disponibles;
  RETURN resultado_final(p_id, 'devolucion', 'APROBADO', 'Devolución registrada',
    v_datos || jsonb_build_object('disponibles', v_disponibles,
                                  'fechaDevolucionPrevista', iso_utc(v_p.fecha_devolucion_prevista),
                                  'atrasada', now() > v_p.fecha_devolucion_prevista));
END $$;

-- ------------------------------------------------------------------ ledger

CREATE FUNCTION resultado_id_reutilizado(p_id text, p_operacion text, p_registrada text) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT resultado_json(p_id, p_operacion, 'RECHAZADA', 'ID_REUTILIZADO',
    format('El id %s ya se usó para otra solicitud (%s); use un id nuevo', p_id, p_registrada),
    jsonb_build_object('operacionRegistrada', p_registrada))
$$;

CREATE FUNCTION resultado_aceptado(p_id text, p_operacion text) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT resultado_json(p_id, p_operacion, 'PENDIENTE', 'ACEPTADO', 'Operación aceptada; se aplicará en breve',
    jsonb_build_object('estado', 'PENDIENTE', 'operacion', p_operacion))
$$;

-- Applies op `p_id` at most once. A repeat returns the recorded outcome
-- unchanged; a PENDIENTE row (from registrar_operacion) is applied now; the
-- same id with another payload is refused without touching anything.
CREATE FUNCTION aplicar_operacion(p_id text, p_operacion text, p_isbn text, p_usuario text, p_sede text DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op operaciones%ROWTYPE;
  v_res jsonb;
BEGIN
  INSERT INTO operaciones (id, operacion, isbn, usuario, sede, estado)
  VALUES (p_id, p_operacion, p_isbn, p_usuario, p_sede, 'PENDIENTE')
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

-- Durably records op `p_id` as PENDIENTE (async mode). Returns ACEPTADO while
-- it is pending, the final outcome once applied, ID_REUTILIZADO on a mismatch.
CREATE FUNCTION registrar_operacion(p_id text, p_operacion text, p_isbn text, p_usuario text, p_sede text DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op operaciones%ROWTYPE;
BEGIN
  INSERT INTO operaciones (id, operacion, isbn, usuario, sede, estado)
  VALUES (p_id, p_operacion, p_isbn, p_usuario, p_sede, 'PENDIENTE')
  ON CONFLICT (id) DO NOTHING;
  IF FOUND THEN
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

-- ------------------------------------------------------------------ queries

CREATE FUNCTION consultar_libro(p_isbn text) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT resultado_json(NULL, 'consulta', NULL, 'OK',
              format('%s ejemplar(es) disponible(s) de %s', l.disponibles, l.total),
              jsonb_build_object('isbn', l.isbn, 'titulo', l.titulo, 'autor', l.autor, 'total', l.total,
                                 'disponibles', l.disponibles, 'prestados', l.total - l.disponibles))
       FROM libros l WHERE l.isbn = p_isbn),
    resultado_json(NULL, 'consulta', NULL, 'LIBRO_NO_EXISTE', format('El libro %s no existe en el catálogo', p_isbn),
                   jsonb_build_object('isbn', p_isbn)))
$$;

CREATE FUNCTION estado_operacion(p_id text) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT resultado_json(o.id, 'estado', NULL, 'OK', format('La operación %s está %s', o.id, o.estado),
              jsonb_strip_nulls(jsonb_build_object('estado', o.estado, 'operacion', o.operacion, 'isbn', o.isbn,
                                                   'usuario', o.usuario, 'sede', o.sede)) ||
              jsonb_build_object('resultado', o.resultado))
       FROM operaciones o WHERE o.id = p_id),
    resultado_json(p_id, 'estado', NULL, 'OPERACION_NO_ENCONTRADA', format('No hay ninguna operación con id %s', p_id), '{}'::jsonb))
$$;

-- Ledger rows still PENDIENTE, oldest first, shaped like `Pendiente` (common/internal-protocol.ts).
CREATE FUNCTION listar_pendientes(p_limite integer) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(p.item ORDER BY p.creada, p.id), '[]'::jsonb)
    FROM (SELECT o.creada, o.id,
                 jsonb_build_object(
                   'op', jsonb_strip_nulls(jsonb_build_object('operacion', o.operacion, 'isbn', o.isbn,
                                                              'usuario', o.usuario, 'id', o.id, 'sede', o.sede)),
                   'registrada', iso_utc(o.creada),
                   'intentos', o.intentos) AS item
            FROM operaciones o
           WHERE o.estado = 'PENDIENTE'
           ORDER BY o.creada, o.id
           LIMIT p_limite) p
$$;
