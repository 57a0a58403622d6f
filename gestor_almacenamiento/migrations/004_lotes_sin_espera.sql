-- A book row locked by another transaction must not hold up a whole batch.
-- With aplicar_lote(p_ops) (003) a batch waited for every one of its books up
-- front; one book held by someone else (an idle transaction, a catalog load,
-- the other GA) made the whole batch wait until statement_timeout and fail,
-- and the GA, which runs one batch at a time, wrote nothing meanwhile.
--
-- aplicar_lote(p_ops, p_esperar, p_espera_max_ms) is aplicar_lote(p_ops) plus:
--   * lock_timeout = p_espera_max_ms for this transaction only (SET LOCAL): no
--     lock wait lasts longer; the call then fails with 55P03 lock_not_available
--     and commits nothing.
--   * p_esperar = false (a batch): books another transaction holds are skipped
--     (FOR UPDATE SKIP LOCKED) and their ops are left untouched: they come back
--     NULL, for the GA to run alone with p_esperar = true, outside its batch.
--
-- Lock order: as in 003, every locked book first, in isbn order. Batches no
-- longer wait for each other's books, so the ledger rows of books that do not
-- exist (no book lock) are taken in (isbn, id) order instead of arrival order:
-- one global order between batches, and the outcome of an op on a missing book
-- does not depend on its order. Ops on a locked book keep their arrival order.
--
-- Returns the Resultado of each op (NULL: skipped), in the order of p_ops.
CREATE FUNCTION aplicar_lote(p_ops jsonb, p_esperar boolean, p_espera_max_ms integer) RETURNS jsonb
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
           e->>'usuario' AS usuario, e->>'sede' AS sede, ord
      FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(e, ord)
     ORDER BY e->>'isbn', CASE WHEN e->>'isbn' = ANY (v_bloqueados) THEN ord END, e->>'id', ord
  LOOP
    CONTINUE WHEN v_op.isbn = ANY (v_ocupados);
    v_out[v_op.ord] := CASE v_op.cmd
      WHEN 'aplicar'   THEN aplicar_operacion(v_op.id, v_op.operacion, v_op.isbn, v_op.usuario, v_op.sede)
      WHEN 'registrar' THEN registrar_operacion(v_op.id, v_op.operacion, v_op.isbn, v_op.usuario, v_op.sede)
    END;
    IF v_out[v_op.ord] IS NULL THEN
      RAISE EXCEPTION 'orden de lote desconocida: %', v_op.cmd USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN to_jsonb(v_out);
END $$;
