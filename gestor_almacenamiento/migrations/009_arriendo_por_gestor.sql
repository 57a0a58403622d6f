-- A GC's leases renewed in one row instead of one row per pending op.
--
-- 006/007 renewed a GC's leases by updating every PENDIENTE row it held, at every
-- call (every third of the lease). With a large backlog (the devolución actors down
-- for minutes under load: 100,000 rows and more) one call took longer than the GA
-- client's attempt timeout and then than the lease: the GC never got an answer in
-- time, never took its rows up, and its acknowledged ops stayed unapplied.
--
-- Now the lease lives in two places and a row is held while EITHER holds:
--  * the row's own `arriendo_hasta`, set when a GC records it (registrar) or claims
--    it: it covers the row until the GC's next call;
--  * the GC's `gestores_carga.arriendo_hasta`, renewed by every reclamar_pendientes
--    call: one row, whatever the backlog.
-- A row is claimable when it has no holder, or when both have run out.
--
-- Every GC that holds a row has a gestores_carga row: registrar inserts a
-- placeholder for a GC that has not called reclamar_pendientes yet (`visto` -infinity:
-- not listed as seen), and rows of gestores_carga are no longer deleted (one per GC
-- id ever used; the list shows those seen in the last hour). So the claim looks for
-- the rows of GCs whose lease ran out, through an index, instead of scanning the
-- backlog.
--
-- Claims and renewals meet on the GC's row: the claim locks the dead GCs' rows
-- (SKIP LOCKED: a GC renewing right now is passed by, and the claim never waits or
-- deadlocks), and a renewal that committed first makes the GC alive again for it.

ALTER TABLE gestores_carga ADD COLUMN arriendo_hasta timestamptz;

-- The rows one GC holds, oldest first: the listing, and the claim of a dead GC's rows.
CREATE INDEX operaciones_pendientes_gestor ON operaciones (gestor, creada, id) WHERE estado = 'PENDIENTE';

-- GCs named by pending rows recorded before this migration and gone from gestores_carga.
INSERT INTO gestores_carga (id, informe, visto)
SELECT DISTINCT gestor, jsonb_build_object('id', gestor), '-infinity'::timestamptz
  FROM operaciones WHERE estado = 'PENDIENTE' AND gestor IS NOT NULL
ON CONFLICT (id) DO NOTHING;

-- Whether a pending row held by `p_gestor` until `p_hasta` is still held.
CREATE FUNCTION arriendo_vigente(p_gestor text, p_hasta timestamptz) RETURNS boolean
  LANGUAGE sql STABLE AS $$
  SELECT p_gestor IS NOT NULL
     AND (p_hasta >= now() OR EXISTS (SELECT 1 FROM gestores_carga g WHERE g.id = p_gestor AND g.arriendo_hasta >= now()))
$$;

-- As in 006, with the holder's lease read through arriendo_vigente, and the GC's
-- placeholder row inserted when it has none.
CREATE OR REPLACE FUNCTION registrar_operacion(p_id text, p_operacion text, p_isbn text, p_usuario text, p_sede text DEFAULT NULL,
                                               p_etiqueta text DEFAULT NULL, p_gestor text DEFAULT NULL, p_arriendo_ms integer DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op operaciones%ROWTYPE;
  v_res jsonb;
  v_hasta timestamptz := CASE WHEN p_gestor IS NOT NULL THEN now() + make_interval(secs => p_arriendo_ms / 1000.0) END;
BEGIN
  IF p_gestor IS NOT NULL AND NOT EXISTS (SELECT 1 FROM gestores_carga WHERE id = p_gestor) THEN
    INSERT INTO gestores_carga (id, informe, visto) VALUES (p_gestor, jsonb_build_object('id', p_gestor), '-infinity')
    ON CONFLICT (id) DO NOTHING;
  END IF;
  INSERT INTO operaciones (id, operacion, isbn, usuario, sede, etiqueta, estado, creada, gestor, arriendo_hasta)
  VALUES (p_id, p_operacion, p_isbn, p_usuario, p_sede, p_etiqueta, 'PENDIENTE', clock_timestamp(), p_gestor, v_hasta)
  ON CONFLICT (id) DO NOTHING;
  IF FOUND THEN
    IF p_operacion IN ('devolucion', 'renovacion') AND sin_prestamo_posible(p_isbn, p_usuario) THEN
      v_res := resultado_final(p_id, p_operacion, 'PRESTAMO_NO_ENCONTRADO',
        format('El usuario %s no tiene un préstamo activo del libro %s', p_usuario, p_isbn),
        jsonb_build_object('isbn', p_isbn, 'usuario', p_usuario));
      UPDATE operaciones
         SET estado = 'RECHAZADA', resultado = v_res, actualizada = now(), intentos = intentos + 1, gestor = NULL, arriendo_hasta = NULL
       WHERE id = p_id;
      RETURN v_res;
    END IF;
    RETURN resultado_aceptado_por(p_id, p_operacion, p_gestor);
  END IF;
  SELECT * INTO v_op FROM operaciones WHERE id = p_id FOR UPDATE;
  IF (v_op.operacion, v_op.isbn, v_op.usuario) IS DISTINCT FROM (p_operacion, p_isbn, p_usuario) THEN
    RETURN resultado_id_reutilizado(p_id, p_operacion, v_op.operacion);
  END IF;
  IF v_op.estado <> 'PENDIENTE' THEN
    RETURN v_op.resultado;
  END IF;
  IF p_gestor IS NOT NULL AND (v_op.gestor IS NULL OR v_op.gestor = p_gestor OR NOT arriendo_vigente(v_op.gestor, v_op.arriendo_hasta)) THEN
    UPDATE operaciones SET gestor = p_gestor, arriendo_hasta = v_hasta WHERE id = p_id;
    v_op.gestor := p_gestor;
  END IF;
  RETURN resultado_aceptado_por(p_id, p_operacion, v_op.gestor);
END $$;

-- As in 007 (report recorded, own rows listed with their age, every GC seen), with
-- the lease renewed in the GC's own row and the claim taking the rows of dead GCs.
CREATE OR REPLACE FUNCTION reclamar_pendientes(p_gestor jsonb, p_arriendo_ms integer, p_limite integer) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_gestor->>'id';
  v_hasta timestamptz := now() + make_interval(secs => p_arriendo_ms / 1000.0);
  v_muertos text[];
  v_reclamadas text[];
BEGIN
  IF v_id IS NULL OR p_arriendo_ms IS NULL OR p_arriendo_ms <= 0 THEN
    RAISE EXCEPTION 'reclamar_pendientes: falta el id del gestor o el arriendo' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO gestores_carga (id, informe, visto, arriendo_hasta) VALUES (v_id, p_gestor, now(), v_hasta)
  ON CONFLICT (id) DO UPDATE SET informe = EXCLUDED.informe, visto = EXCLUDED.visto, arriendo_hasta = EXCLUDED.arriendo_hasta;

  -- GCs whose lease ran out, locked so that none of them renews while its rows change hands.
  v_muertos := ARRAY(SELECT id FROM gestores_carga
                      WHERE id <> v_id AND (arriendo_hasta IS NULL OR arriendo_hasta < now())
                      ORDER BY id FOR UPDATE SKIP LOCKED);

  WITH c AS (
    UPDATE operaciones o SET gestor = v_id, arriendo_hasta = v_hasta
      FROM (SELECT id FROM operaciones
             WHERE estado = 'PENDIENTE'
               AND (gestor IS NULL OR (gestor = ANY (v_muertos) AND (arriendo_hasta IS NULL OR arriendo_hasta < now())))
             ORDER BY creada, id LIMIT p_limite FOR UPDATE SKIP LOCKED) r
     WHERE o.id = r.id
    RETURNING o.id)
  SELECT coalesce(array_agg(id), '{}') INTO v_reclamadas FROM c;

  RETURN jsonb_build_object(
    'pendientes', (
      SELECT coalesce(jsonb_agg(p.item ORDER BY p.creada, p.id), '[]'::jsonb)
        FROM (SELECT o.creada, o.id,
                     jsonb_build_object(
                       'op', jsonb_strip_nulls(jsonb_build_object('operacion', o.operacion, 'isbn', o.isbn,
                                                                  'usuario', o.usuario, 'id', o.id, 'sede', o.sede,
                                                                  'etiqueta', o.etiqueta)),
                       'registrada', iso_utc(o.creada),
                       'edadMs', round(extract(epoch FROM now() - o.creada) * 1000)::bigint,
                       'intentos', o.intentos,
                       'reclamada', o.id = ANY (v_reclamadas)) AS item
                FROM operaciones o
               WHERE o.estado = 'PENDIENTE' AND o.gestor = v_id
               ORDER BY o.creada, o.id
               LIMIT p_limite) p),
    'gestores', (
      SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', g.id, 'informe', g.informe,
                 'vistoHaceMs', round(extract(epoch FROM now() - g.visto) * 1000)::bigint) ORDER BY g.id), '[]'::jsonb)
        FROM gestores_carga g
       WHERE g.visto > now() - interval '1 hour'));
END $$;
