/*
 * The live panel page: one Server-Sent Events stream (/api/eventos) brings the
 * history at connection and then one update per poll (panel/snapshot.ts has
 * the shapes); this draws the charts, with role changes and breaker openings
 * marked on the timeline, and the tables of GAs, actors, breakers and GCs.
 * Plain browser script, no build step. Text from the processes goes in with
 * textContent only.
 */
(function () {
  'use strict';
  var OPS = ['prestamo', 'devolucion', 'renovacion'];
  var estado = { puntos: [], eventos: [], instantanea: null, objetivos: [], ventanaMs: 10 * 60 * 1000 };
  var graficos = {};

  function $(id) { return document.getElementById(id); }
  function el(tag, clase, texto) {
    var e = document.createElement(tag);
    if (clase) e.className = clase;
    if (texto !== undefined && texto !== null) e.textContent = String(texto);
    return e;
  }
  function num(x, d) { return x === null || x === undefined ? '—' : Number(x).toFixed(d === undefined ? 0 : d); }
  function bytes(n) {
    if (n === null || n === undefined) return '—';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }
  function claseEstado(v) { return 'estado estado-' + String(v).replace(/[^A-Za-z-]/g, '-'); }

  /** A table: cabecera = column names; filas = [{ celdas: [text | {t, clase}], attrs }]. */
  function tabla(destino, cabecera, filas, vacio) {
    var cont = $(destino);
    cont.textContent = '';
    if (!filas.length) { cont.appendChild(el('p', '', vacio || 'nada que mostrar')); return; }
    var t = el('table');
    var tr = el('tr');
    cabecera.forEach(function (c) { tr.appendChild(el('th', '', c)); });
    var thead = el('thead');
    thead.appendChild(tr);
    t.appendChild(thead);
    var tbody = el('tbody');
    filas.forEach(function (f) {
      var r = el('tr');
      Object.keys(f.attrs || {}).forEach(function (k) { r.setAttribute(k, f.attrs[k]); });
      f.celdas.forEach(function (c) {
        if (c && typeof c === 'object') r.appendChild(el('td', c.clase, c.t));
        else r.appendChild(el('td', typeof c === 'number' ? 'num' : '', c));
      });
      tbody.appendChild(r);
    });
    t.appendChild(tbody);
    cont.appendChild(t);
  }

  // ------------------------------------------------------------ charts

  function opsVistas() {
    var vistas = {};
    estado.puntos.forEach(function (p) { Object.keys(p.porOperacion).forEach(function (o) { vistas[o] = true; }); });
    var extra = Object.keys(vistas).filter(function (o) { return OPS.indexOf(o) < 0; }).sort();
    return OPS.concat(extra);
  }

  function marcas() {
    return estado.eventos.map(function (e) { return { t: e.t / 1000, texto: e.texto, tipo: e.tipo }; });
  }

  function definiciones() {
    var x = estado.puntos.map(function (p) { return p.t / 1000; });
    var ops = opsVistas();
    var col = function (f) { return estado.puntos.map(f); };
    var opCol = function (op, campo) {
      return col(function (p) { var o = p.porOperacion[op]; return o ? o[campo] : campo === 'rps' ? 0 : null; });
    };
    var clases = {};
    estado.puntos.forEach(function (p) { Object.keys(p.erroresPorSegundo).forEach(function (c) { clases[c] = true; }); });
    var m = marcas();
    return [
      {
        id: 'rps', titulo: 'Solicitudes por segundo, por operación', unidad: 'sol/s', x: x, marcas: m,
        series: ops.map(function (op) { return { nombre: op, valores: opCol(op, 'rps') }; }).concat([{
          nombre: 'total',
          valores: col(function (p) { return Object.keys(p.porOperacion).reduce(function (a, o) { return a + p.porOperacion[o].rps; }, 0); }),
        }]),
      },
      { id: 'p50', titulo: 'Latencia p50 por operación', unidad: 'ms', x: x, marcas: m, series: ops.map(function (op) { return { nombre: op, valores: opCol(op, 'p50') }; }) },
      { id: 'p99', titulo: 'Latencia p99 por operación', unidad: 'ms', x: x, marcas: m, series: ops.map(function (op) { return { nombre: op, valores: opCol(op, 'p99') }; }) },
      {
        id: 'errores', titulo: 'Errores por segundo, por clase', unidad: 'err/s', x: x, marcas: m,
        series: (Object.keys(clases).length ? Object.keys(clases).sort() : ['unavailable']).map(function (c) {
          return { nombre: c, valores: col(function (p) { return p.erroresPorSegundo[c] || 0; }) };
        }),
      },
      {
        id: 'tareas', titulo: 'Tareas del GC', unidad: 'tareas', x: x, marcas: m,
        series: [
          { nombre: 'en curso', valores: col(function (p) { return p.tareas.enviada; }) },
          { nombre: 'en cola', valores: col(function (p) { return p.tareas.enCola; }) },
          { nombre: 'esperando actor', valores: col(function (p) { return p.tareas.espera; }) },
        ],
      },
      { id: 'lag', titulo: 'Retraso de la réplica de PostgreSQL', unidad: 'bytes', x: x, marcas: m, series: [{ nombre: 'retraso', valores: col(function (p) { return p.retrasoReplicaBytes; }) }] },
    ];
  }

  function dibujarGraficos() {
    definiciones().forEach(function (g) {
      var actual = graficos[g.id];
      var firma = g.series.map(function (s) { return s.nombre; }).join('|');
      if (actual && actual.series === firma) { actual.actualizar(g); return; }
      if (actual) actual.destruir();
      graficos[g.id] = Graficos.crear($('graficos'), g, { tiempoReal: true, alto: 220, leyendaMarcas: false });
    });
  }

  // ------------------------------------------------------------ tables and figures

  function kpis() {
    var p = estado.puntos[estado.puntos.length - 1];
    var s = estado.instantanea;
    var poner = function (id, v) { $(id).querySelector('.v').textContent = v; };
    if (p) {
      var ops = Object.keys(p.porOperacion);
      poner('kpi-rps', num(ops.reduce(function (a, o) { return a + p.porOperacion[o].rps; }, 0), 1));
      var p99 = ops.map(function (o) { return p.porOperacion[o].p99; }).filter(function (v) { return v !== null; });
      poner('kpi-p99', p99.length ? num(Math.max.apply(null, p99), 1) : '—');
      poner('kpi-errores', num(Object.keys(p.erroresPorSegundo).reduce(function (a, c) { return a + p.erroresPorSegundo[c]; }, 0), 1));
      poner('kpi-en-curso', p.tareas.enviada);
      poner('kpi-en-cola', p.tareas.enCola + p.tareas.espera);
    }
    if (s) {
      var vivos = 0;
      Object.keys(s.actoresVivos).forEach(function (t) { Object.keys(s.actoresVivos[t]).forEach(function (h) { vivos += s.actoresVivos[t][h]; }); });
      poner('kpi-actores', vivos);
      var activos = s.gas.filter(function (g) { return g.estado && g.estado.papel && g.estado.papel.estado === 'ACTIVE'; }).map(function (g) { return g.objetivo.host; });
      poner('kpi-ga', activos.length ? activos.join(', ') : 'ninguno');
    }
  }

  function tablaGa(s) {
    tabla('tabla-ga', ['GA', 'URL', 'estado', 'rol', 'PostgreSQL', 'timeline', 'réplica', 'replicación', 'par', 'en curso'], s.gas.map(function (g) {
      var st = g.estado;
      if (!g.responde || !st) {
        return { attrs: { 'data-ga': g.objetivo.host }, celdas: [g.objetivo.host, g.objetivo.url, { t: 'sin respuesta', clase: 'ga-estado ' + claseEstado('sin-respuesta') }, '', '', '', '', '', '', g.error || ''] };
      }
      var pg = st.postgres || {};
      var replica = '—';
      if (pg.rolPg === 'primary' && Array.isArray(pg.replicas)) {
        replica = pg.replicas.length ? pg.replicas.map(function (r) { return r.nombre + ' ' + r.estado + ' ' + r.estadoSync + ', ' + bytes(r.retrasoBytes); }).join('; ') : 'sin standbys';
      } else if (pg.rolPg === 'standby' && pg.recepcion) {
        replica = pg.recepcion.error ? pg.recepcion.error : (pg.recepcion.recibiendo ? 'recibiendo' : 'NO recibe') + ', ' + bytes(pg.recepcion.retrasoBytes);
      }
      var rep = st.replicacion ? st.replicacion.pedido + ' → ' + st.replicacion.modo : '—';
      // A process of another version (or a wrong URL) may lack any field: show '?' rather than stop the page.
      var papel = st.papel || {};
      var par = st.papel && st.papel.par ? (st.papel.par.latidoHaceMs === null ? 'nunca oído' : st.papel.par.latidoHaceMs + ' ms' + (st.papel.par.perdido ? ' (PERDIDO)' : '')) : '—';
      return {
        attrs: { 'data-ga': g.objetivo.host },
        celdas: [
          g.objetivo.host, g.objetivo.url, { t: papel.estado || '?', clase: 'ga-estado ' + claseEstado(papel.estado || '?') }, papel.rol || st.rol || '?',
          { t: pg.rolPg || '?', clase: claseEstado(pg.rolPg || '?') }, pg.timeline === undefined ? '—' : pg.timeline, replica, rep, par, st.enCurso === undefined ? '?' : st.enCurso,
        ],
      };
    }), 'sin GA que consultar');
  }

  function tablasActores(s) {
    var hosts = {};
    Object.keys(s.actoresVivos).forEach(function (t) { Object.keys(s.actoresVivos[t]).forEach(function (h) { hosts[h] = true; }); });
    s.actores.forEach(function (a) { hosts[a.objetivo.host] = true; });
    var hs = Object.keys(hosts).sort();
    tabla('tabla-actores-host', ['vivos por tipo'].concat(hs), Object.keys(s.actoresVivos).map(function (t) {
      return { attrs: { 'data-tipo': t }, celdas: [t].concat(hs.map(function (h) { return s.actoresVivos[t][h] || 0; })) };
    }));
    tabla('tabla-actores', ['actor', 'host', 'tipo', 'estado', 'en curso', 'completadas', 'fallidas'], s.actores.map(function (a) {
      var st = a.estado;
      return {
        attrs: { 'data-actor': st ? st.actorId : a.objetivo.nombre },
        celdas: [st ? st.actorId : a.objetivo.nombre, a.objetivo.host, st ? (st.tipos || [st.tipo]).join(', ') : '?', { t: a.vivo ? 'vivo' : a.responde ? 'no vivo en el GC' : 'caído', clase: claseEstado(a.vivo ? 'vivo' : 'caido') },
          st ? st.enCurso : '—', st ? st.completadas : '—', st ? st.fallidas : '—'],
      };
    }), 'sin actores que consultar');
  }

  function tablaBreakers(s) {
    tabla('tabla-breakers', ['cliente', 'host', 'GA', 'estado', 'fallos seguidos', 'preferido', 'último error'], s.disyuntores.map(function (b) {
      return { attrs: { 'data-breaker': b.cliente + ' ' + b.endpoint }, celdas: [b.cliente, b.host, b.endpoint.replace('tcp://', ''), { t: b.disyuntor, clase: claseEstado(b.disyuntor) }, b.fallosSeguidos, b.preferido ? 'sí' : '', b.ultimoError || ''] };
    }), 'sin breakers');
  }

  function tablaGc(s) {
    tabla('tabla-gc', ['GC', 'id', 'URL', 'estado', 'respuestas', 'tareas', 'sync esperando', 'modos', 'estrategia'], s.gcs.map(function (g) {
      var st = g.estado;
      if (!g.responde || !st) return { attrs: { 'data-gc': g.objetivo.nombre }, celdas: [g.objetivo.nombre, '', g.objetivo.url, { t: 'sin respuesta', clase: claseEstado('sin-respuesta') }, '', '', '', '', g.error || ''] };
      var tareas = st.tareas || {};
      var modos = st.modos || {};
      return {
        attrs: { 'data-gc': g.objetivo.nombre },
        celdas: [g.objetivo.nombre, st.gc ? st.gc.id : '', g.objetivo.url, { t: 'vivo', clase: claseEstado('vivo') }, st.respuestas,
          st.tareas ? 'en curso ' + tareas.enviada + ', en cola ' + tareas['en-cola'] + ', esperando ' + tareas.espera : '?', st.solicitudesSyncEsperando,
          Object.keys(modos).map(function (k) { return k + ' ' + modos[k]; }).join(', '), st.estrategia],
      };
    }), 'sin GC que consultar');
    var recientes = [];
    s.gcs.forEach(function (g) { if (g.errores && Array.isArray(g.errores.recientes)) recientes = recientes.concat(g.errores.recientes.slice(0, 10)); });
    recientes.sort(function (a, b) { return a.fecha < b.fecha ? 1 : -1; });
    tabla('tabla-errores', ['hora', 'operación', 'código', 'clase', 'mensaje'], recientes.slice(0, 10).map(function (e) {
      return { celdas: [String(e.fecha || '').slice(11, 19), e.operacion, e.codigo, e.clase, e.mensaje] };
    }), 'sin errores recientes');
  }

  function listaEventos() {
    var ul = $('eventos');
    ul.textContent = '';
    estado.eventos.slice().reverse().forEach(function (e) {
      var li = el('li', 'evento evento-' + e.tipo, new Date(e.t).toLocaleTimeString('es-ES') + '  ' + e.texto);
      li.style.borderLeftColor = Graficos.COLOR_MARCA[e.tipo] || '#000';
      ul.appendChild(li);
    });
    if (!estado.eventos.length) ul.appendChild(el('li', '', 'ningún cambio de rol, breaker o proceso todavía'));
  }

  function dibujar() {
    var s = estado.instantanea;
    dibujarGraficos();
    kpis();
    if (s) {
      tablaGa(s);
      tablasActores(s);
      tablaBreakers(s);
      tablaGc(s);
      $('actualizado').textContent = 'actualizado ' + new Date(s.t).toLocaleTimeString('es-ES');
    }
    listaEventos();
    document.body.setAttribute('data-puntos', String(estado.puntos.length));
  }

  // ------------------------------------------------------------ the stream

  var fuente = new EventSource('/api/eventos');
  fuente.addEventListener('inicio', function (ev) {
    var d = JSON.parse(ev.data);
    estado = {
      puntos: d.puntos || [], eventos: d.eventos || [], instantanea: d.instantanea || null, objetivos: d.objetivos || [],
      ventanaMs: d.ventanaMs || estado.ventanaMs,
    };
    $('conexion').className = 'conexion viva';
    $('conexion').textContent = 'en vivo';
    dibujar();
  });
  fuente.addEventListener('actualizacion', function (ev) {
    var u = JSON.parse(ev.data);
    estado.instantanea = u.instantanea;
    if (u.punto) estado.puntos.push(u.punto);
    estado.eventos = estado.eventos.concat(u.eventos);
    // The same window the server keeps (its --historia), by the server's clock: older points and events are dropped.
    var limite = u.instantanea.t - estado.ventanaMs;
    while (estado.puntos.length && estado.puntos[0].t < limite) estado.puntos.shift();
    while (estado.eventos.length && estado.eventos[0].t < limite) estado.eventos.shift();
    dibujar();
  });
  fuente.onerror = function () {
    $('conexion').className = 'conexion caida';
    $('conexion').textContent = 'sin conexión con el panel (reintentando)';
  };
})();
