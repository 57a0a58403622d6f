-- reclamar_pendientes as in 009, listing a GC's own rows by turns between the
-- operations (each one's oldest, then each one's next…) instead of oldest first overall.
--
-- The GC takes up the rows it is not tracking yet from that list. With async préstamos
-- or renovaciones, a GC holding more than the limit of old devoluciones whose actors are
-- all down (tracked, waiting for an actor) was handed the same devoluciones at every call,
-- and a newer préstamo it held was never listed, though its actors were up; its lease,
-- renewed by the live GC, kept every other GC off it too.
--
-- The listing's index now leads with the operation; the claim of a dead GC's rows
-- (gestor = ANY) uses its first column alike.

DROP INDEX operaciones_pendientes_gestor;
CREATE INDEX operaciones_pendientes_gestor ON operaciones (gestor, operacion, creada, id) WHERE estado = 'PENDIENTE';

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
                FROM unnest(ARRAY['prestamo', 'devolucion', 'renovacion']) AS t(operacion)
                CROSS JOIN LATERAL (
                  SELECT o.*, row_number() OVER (ORDER BY o.creada, o.id) AS turno
                    FROM operaciones o
                   WHERE o.estado = 'PENDIENTE' AND o.gestor = v_id AND o.operacion = t.operacion
                   ORDER BY o.creada, o.id
                   LIMIT p_limite) o
               -- Taking turns: each operation's oldest, then each one's second oldest… so one
               -- operation fills the limit alone only when it is the only one pending.
               ORDER BY o.turno, o.creada, o.id
               LIMIT p_limite) p),
    'gestores', (
      SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', g.id, 'informe', g.informe,
                 'vistoHaceMs', round(extract(epoch FROM now() - g.visto) * 1000)::bigint) ORDER BY g.id), '[]'::jsonb)
        FROM gestores_carga g
       WHERE g.visto > now() - interval '1 hour'));
END $$;
