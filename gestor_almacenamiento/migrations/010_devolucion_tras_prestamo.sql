-- aplicar_operacion as in 008, and a recorded devolución or renovación waits for the
-- préstamo it was accepted on.
--
-- With async préstamos (GC_MODO_PRESTAMO=async) a devolución is ACEPTADO while its
-- préstamo is still PENDIENTE (005: a loan is on its way). Nothing made the two apply in
-- that order: they go to different actors, and a devolución applied first was refused
-- (no active loan yet) and then the préstamo lent the book for good: a user who gave it
-- back still has it on loan.
--
-- Now such a devolución or renovación (its row PENDIENTE, no active loan, a préstamo of
-- the same book and user recorded before it still PENDIENTE) is not applied yet: it
-- answers "not applied" (ALMACENAMIENTO_NO_DISPONIBLE, no estado), its row stays
-- PENDIENTE, and the GC publishes it again after its backoff, as for any async op the
-- storage could not take. An op sent synchronously is judged on the loans as they are.
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
    IF p_operacion IN ('devolucion', 'renovacion')
       AND NOT EXISTS (SELECT 1 FROM prestamos WHERE isbn = p_isbn AND usuario = p_usuario AND estado = 'ACTIVO')
       AND EXISTS (SELECT 1 FROM operaciones
                    WHERE estado = 'PENDIENTE' AND operacion = 'prestamo' AND isbn = p_isbn AND usuario = p_usuario
                      AND creada < v_op.creada) THEN
      RETURN resultado_json(p_id, p_operacion, NULL, 'ALMACENAMIENTO_NO_DISPONIBLE',
        format('La %s espera a que se aplique el préstamo anterior del libro %s; se reintentará', p_operacion, p_isbn),
        jsonb_build_object('isbn', p_isbn, 'usuario', p_usuario));
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
