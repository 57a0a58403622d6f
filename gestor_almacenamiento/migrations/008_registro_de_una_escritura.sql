-- aplicar_operacion as in 005, with one ledger write for a new op instead of two.
--
-- 005 inserted the op's row as PENDIENTE before running its rule and then updated it
-- to its outcome: for every synchronous op, two heap tuples, two primary-key entries
-- and an entry in the pending index (the update cannot be HOT: `estado` is in that
-- index's predicate), all in the GA's one write backend, which every write waits for.
-- Now a new op's rule runs first and its row is inserted once, final.
--
-- Why that is still at most once: if another transaction wrote the op's row after
-- this one looked it up, the insert finds it (ON CONFLICT waits for that transaction
-- to end) and this transaction is aborted as a serialization failure: nothing of it
-- is kept, the rule's effect included, and the GA's store runs it again (isRetryable),
-- when the lookup finds the row. It is rare: aplicar_lote locks its books first, so
-- two transactions of one op id on one book already run one after the other; only an
-- id reused on another book (ID_REUTILIZADO on the retry) or on a missing one can race.
CREATE OR REPLACE FUNCTION aplicar_operacion(p_id text, p_operacion text, p_isbn text, p_usuario text, p_sede text DEFAULT NULL, p_etiqueta text DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op operaciones%ROWTYPE;
  v_res jsonb;
  v_registrada boolean;
BEGIN
  SELECT * INTO v_op FROM operaciones WHERE id = p_id FOR UPDATE;
  v_registrada := FOUND;
  IF v_registrada THEN
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
  IF v_registrada THEN
    UPDATE operaciones
       SET estado = v_res->>'estado', resultado = v_res, actualizada = now(), intentos = intentos + 1
     WHERE id = p_id;
    RETURN v_res;
  END IF;
  INSERT INTO operaciones (id, operacion, isbn, usuario, sede, etiqueta, estado, resultado, creada, intentos)
  VALUES (p_id, p_operacion, p_isbn, p_usuario, p_sede, p_etiqueta, v_res->>'estado', v_res, clock_timestamp(), 1)
  ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'la operación % se registró a la vez en otra transacción', p_id USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN v_res;
END $$;
