-- Several load managers (GC, one per sede) share one ledger, all active at once.
-- An async op recorded by one GC must complete even if that GC dies for good,
-- and no two live GCs may both resume it. A pending row therefore carries a
-- lease: the GC that holds it (`gestor`) until `arriendo_hasta`. The holder
-- renews its leases while it lives (reclamar_pendientes, every third of the
-- lease); a lease that runs out means its GC is gone, and any GC may claim the
-- row. Claims take row locks with SKIP LOCKED: two GCs claiming at once never
-- get the same row, and a claim never waits for (or deadlocks with) a write.
-- The GA's at-most-once per op id still guards the effect; the lease keeps two
-- GCs from publishing the same op in the first place.

ALTER TABLE operaciones
  ADD COLUMN gestor text,
  ADD COLUMN arriendo_hasta timestamptz;

-- The GCs that have called reclamar_pendientes, with what each reports about
-- itself (sede, load): every GC's /status and `npm run status` list them all.
CREATE TABLE gestores_carga (
  id      text PRIMARY KEY,
  informe jsonb NOT NULL,
  visto   timestamptz NOT NULL DEFAULT now()
);

-- registrar_operacion(…, p_gestor, p_arriendo_ms): as in 005 (label, refusal of a
-- return with no loan to act on), and the caller
-- takes the lease of a PENDIENTE row when nobody holds it: a new row, a row whose
-- holder's lease ran out, or its own. A repeat of an op whose live holder is
-- another GC (a PS that failed over while the first GC was merely slow) leaves
-- the lease where it is. The reply says who holds it (`datos.gestor`), so the
-- caller knows whether the op is its to publish.
DROP FUNCTION registrar_operacion(text, text, text, text, text, text);
CREATE FUNCTION registrar_operacion(p_id text, p_operacion text, p_isbn text, p_usuario text, p_sede text DEFAULT NULL,
                                    p_etiqueta text DEFAULT NULL, p_gestor text DEFAULT NULL, p_arriendo_ms integer DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op operaciones%ROWTYPE;
  v_res jsonb;
  v_hasta timestamptz := CASE WHEN p_gestor IS NOT NULL THEN now() + make_interval(secs => p_arriendo_ms / 1000.0) END;
BEGIN
  INSERT INTO operaciones (id, operacion, isbn, usuario, sede, etiqueta, estado, creada, gestor, arriendo_hasta)
  VALUES (p_id, p_operacion, p_isbn, p_usuario, p_sede, p_etiqueta, 'PENDIENTE', clock_timestamp(), p_gestor, v_hasta)
  ON CONFLICT (id) DO NOTHING;
  IF FOUND THEN
    IF p_operacion IN ('devolucion', 'renovacion') AND sin_prestamo_posible(p_isbn, p_usuario) THEN
      v_res := resultado_final(p_id, p_operacion, 'PRESTAMO_NO_ENCONTRADO',
        format('El usuario %s no tiene un préstamo activo del libro %s', p_usuario, p_isbn),
        jsonb_build_object('isbn', p_isbn, 'usuario', p_usuario));
      -- Final at once: nobody has anything to publish, so no lease either.
      UPDATE operaciones
         SET estado = 'RECHAZADA', resultado = v_res, actualizada = now(), intentos = intentos + 1, gestor = NULL, arriendo_hasta = NULL
       WHERE id = p_id;
      RETURN v_res;
    END IF;
    RETURN resultado_aceptado_por(p_id, p_operacion, p_gestor);
  END IF;
  -- Locked: the lease may change hands below. Same lock order as aplicar_operacion (book, then ledger row).
  SELECT * INTO v_op FROM operaciones WHERE id = p_id FOR UPDATE;
  IF (v_op.operacion, v_op.isbn, v_op.usuario) IS DISTINCT FROM (p_operacion, p_isbn, p_usuario) THEN
    RETURN resultado_id_reutilizado(p_id, p_operacion, v_op.operacion);
  END IF;
  IF v_op.estado <> 'PENDIENTE' THEN
    RETURN v_op.resultado;
  END IF;
  IF p_gestor IS NOT NULL AND (v_op.gestor IS NULL OR v_op.gestor = p_gestor OR v_op.arriendo_hasta < now()) THEN
    UPDATE operaciones SET gestor = p_gestor, arriendo_hasta = v_hasta WHERE id = p_id;
    v_op.gestor := p_gestor;
  END IF;
  RETURN resultado_aceptado_por(p_id, p_operacion, v_op.gestor);
END $$;

-- ACEPTADO, plus the lease holder in `datos.gestor` when there is one.
CREATE FUNCTION resultado_aceptado_por(p_id text, p_operacion text, p_gestor text) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_gestor IS NULL THEN resultado_aceptado(p_id, p_operacion)
              ELSE jsonb_set(resultado_aceptado(p_id, p_operacion), '{datos,gestor}', to_jsonb(p_gestor)) END
$$;

-- aplicar_lote as in 005 (labels passed on); a 'registrar' item may also carry `gestor` and `arriendoMs`.
CREATE OR REPLACE FUNCTION aplicar_lote(p_ops jsonb, p_esperar boolean, p_espera_max_ms integer) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_isbns text[] := ARRAY(SELECT DISTINCT e->>'isbn' FROM jsonb_array_elements(p_ops) e);
  v_bloqueados text[];
  v_ocupados text[] := '{}';
  v_op record;
  v_out jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_ops)]);
BEGIN
  PERFORM set_config('lock_timeout', p_espera_max_ms || 'ms', true);
  IF p_esperar THEN
    SELECT coalesce(array_agg(isbn), '{}') INTO v_bloqueados
      FROM (SELECT isbn FROM libros WHERE isbn = ANY (v_isbns) ORDER BY isbn FOR UPDATE) l;
  ELSE
    SELECT coalesce(array_agg(isbn), '{}') INTO v_bloqueados
      FROM (SELECT isbn FROM libros WHERE isbn = ANY (v_isbns) ORDER BY isbn FOR UPDATE SKIP LOCKED) l;
    v_ocupados := ARRAY(SELECT isbn FROM libros WHERE isbn = ANY (v_isbns) AND NOT isbn = ANY (v_bloqueados));
  END IF;
  FOR v_op IN
    SELECT e->>'cmd' AS cmd, e->>'id' AS id, e->>'operacion' AS operacion, e->>'isbn' AS isbn,
           e->>'usuario' AS usuario, e->>'sede' AS sede, e->>'etiqueta' AS etiqueta,
           e->>'gestor' AS gestor, (e->>'arriendoMs')::integer AS arriendo_ms, ord
      FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(e, ord)
     ORDER BY e->>'isbn', CASE WHEN e->>'isbn' = ANY (v_bloqueados) THEN ord END, e->>'id', ord
  LOOP
    CONTINUE WHEN v_op.isbn = ANY (v_ocupados);
    v_out[v_op.ord] := CASE v_op.cmd
      WHEN 'aplicar'   THEN aplicar_operacion(v_op.id, v_op.operacion, v_op.isbn, v_op.usuario, v_op.sede, v_op.etiqueta)
      WHEN 'registrar' THEN registrar_operacion(v_op.id, v_op.operacion, v_op.isbn, v_op.usuario, v_op.sede, v_op.etiqueta, v_op.gestor, v_op.arriendo_ms)
    END;
    IF v_out[v_op.ord] IS NULL THEN
      RAISE EXCEPTION 'orden de lote desconocida: %', v_op.cmd USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN to_jsonb(v_out);
END $$;

-- One GC's periodic call (its heartbeat to the ledger), in one transaction:
--  1. records the GC and its self-report (`p_gestor`: {id, sede, load…});
--  2. renews the leases it holds;
--  3. claims pending rows nobody holds (no holder, or the lease ran out);
--  4. returns the pending rows it now holds, oldest first (`reclamada`: taken
--     over just now, from a GC that is gone), and every GC seen in the last
--     hour, with how long ago by the database's clock (the GCs' clocks may differ).
-- Rows being applied right now are locked: SKIP LOCKED passes them by (they are
-- finishing), so this call never waits for a write nor deadlocks with one.
CREATE FUNCTION reclamar_pendientes(p_gestor jsonb, p_arriendo_ms integer, p_limite integer) RETURNS jsonb
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
