-- Group commit: the GA sends the state-changing requests that queued up while
-- earlier ones were running as ONE call, ONE transaction, ONE commit. Every op
-- in it keeps its own semantics (aplicar_operacion / registrar_operacion, at
-- most once, the recorded outcome on a repeat); only the round trip, the
-- statement overhead and the WAL flush are shared.
--
-- Lock order, so that concurrent batches cannot deadlock:
--   1. every book of the batch, in isbn order, up front (registrar ones too);
--   2. then the ops in (isbn, arrival) order, so the ledger rows of books that
--      do not exist (no book lock) are also taken in one global order.
-- Ops on the same book keep their arrival order. An id reused with another
-- isbn can still meet a crossing batch; PostgreSQL's deadlock detector aborts
-- one and the GA repeats that batch (store.ts), which is safe: nothing committed.
--
-- p_ops: [{"cmd": "aplicar"|"registrar", "id", "operacion", "isbn", "usuario", "sede"?}, …]
-- Returns the Resultado of each op, in the order of p_ops.
CREATE FUNCTION aplicar_lote(p_ops jsonb) RETURNS jsonb
  LANGUAGE plpgsql AS $$
DECLARE
  v_op record;
  -- Pre-sized: ops are filled in lock order, not in array order.
  v_out jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_ops)]);
BEGIN
  PERFORM 1 FROM libros
   WHERE isbn IN (SELECT e->>'isbn' FROM jsonb_array_elements(p_ops) e)
   ORDER BY isbn
     FOR UPDATE;
  FOR v_op IN
    SELECT e->>'cmd' AS cmd, e->>'id' AS id, e->>'operacion' AS operacion, e->>'isbn' AS isbn,
           e->>'usuario' AS usuario, e->>'sede' AS sede, ord
      FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(e, ord)
     ORDER BY e->>'isbn', ord
  LOOP
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
