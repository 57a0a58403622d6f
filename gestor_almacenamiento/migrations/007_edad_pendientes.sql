-- reclamar_pendientes (006_arriendos.sql) also returns each pending row's age,
-- `edadMs`, by the database's clock: a GC deciding whether one of its own rows is
-- stale must not compare `registrada` with its own clock (the hosts' clocks may
-- differ; a GC behind the database's clock would leave its rows unpublished for
-- the difference). Otherwise unchanged.
CREATE OR REPLACE FUNCTION reclamar_pendientes(p_gestor jsonb, p_arriendo_ms integer, p_limite integer) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_gestor->>'id';
  v_hasta timestamptz := now() + make_interval(secs => p_arriendo_ms / 1000.0);
  v_reclamadas text[];
BEGIN
  IF v_id IS NULL OR p_arriendo_ms IS NULL OR p_arriendo_ms <= 0 THEN
    RAISE EXCEPTION 'reclamar_pendientes: falta el id del gestor o el arriendo' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO gestores_carga (id, informe, visto) VALUES (v_id, p_gestor, now())
  ON CONFLICT (id) DO UPDATE SET informe = EXCLUDED.informe, visto = EXCLUDED.visto;
  DELETE FROM gestores_carga WHERE visto < now() - interval '1 hour';

  UPDATE operaciones o SET arriendo_hasta = v_hasta
    FROM (SELECT id FROM operaciones WHERE estado = 'PENDIENTE' AND gestor = v_id ORDER BY id FOR UPDATE SKIP LOCKED) r
   WHERE o.id = r.id;

  WITH c AS (
    UPDATE operaciones o SET gestor = v_id, arriendo_hasta = v_hasta
      FROM (SELECT id FROM operaciones
             WHERE estado = 'PENDIENTE' AND (gestor IS NULL OR arriendo_hasta < now())
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
        FROM gestores_carga g));
END $$;
