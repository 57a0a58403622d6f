-- arriendo_vigente (009) as registrar_operacion uses it to take a row over from a GC whose
-- lease ran out, now with that GC's gestores_carga row locked, as the claim in
-- reclamar_pendientes does.
--
-- Without the lock, a GC renewing its lease at that moment (its reclamar_pendientes not
-- committed yet, listing the row as its own) and a repeat of the op through another GC
-- (registrar, reading the holder's old, lapsed lease) both ended up holding the row and
-- both published it. The GA's at-most-once per clave kept the effect single; the lock
-- keeps the promise that two live GCs never both publish one async op.
--
-- A holder's row locked by someone else (the holder renewing, or another GC claiming its
-- rows) counts as held: registrar does not wait and does not take it. The lock taken here
-- lasts until registrar's transaction ends, so the holder cannot renew while its row
-- changes hands; its renewal then no longer lists the row.
CREATE OR REPLACE FUNCTION arriendo_vigente(p_gestor text, p_hasta timestamptz) RETURNS boolean
  LANGUAGE plpgsql AS $$
DECLARE
  v_hasta timestamptz;
BEGIN
  IF p_gestor IS NULL THEN
    RETURN false;
  END IF;
  IF p_hasta >= now() THEN
    RETURN true;
  END IF;
  SELECT arriendo_hasta INTO v_hasta FROM gestores_carga WHERE id = p_gestor FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    -- Locked by another transaction (held), or no row at all (nobody holds it).
    RETURN EXISTS (SELECT 1 FROM gestores_carga WHERE id = p_gestor);
  END IF;
  RETURN v_hasta >= now();
END $$;
