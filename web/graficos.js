/*
 * Line charts (uPlot) with marks: a dashed vertical line and a label for each
 * moment worth seeing on the timeline (a fault, a recovery, a GA role change,
 * a breaker opening). Shared by the live panel and the HTML reports.
 * Plain browser script, no build step: it defines window.Graficos.
 *
 * A chart is { titulo, unidad, x: [...], series: [{ nombre, valores }], marcas: [{ t, texto, tipo }] }.
 * Every chart made is listed in window.__graficos (title, uPlot instance, its
 * marks) so tests can check what was drawn.
 */
(function () {
  'use strict';
  // Series colours never reuse a mark colour, so a mark is told apart from a line.
  var COLORES = ['#1f77b4', '#ff7f0e', '#9467bd', '#17becf', '#8c564b', '#bcbd22', '#e377c2', '#7f7f7f'];
  var COLOR_TOTAL = '#333333';
  var COLOR_FALLOS = '#b8860b';
  var MAX_FILAS = 4;
  var ETIQUETADAS = { falla: true, recuperacion: true, rol: true };
  var COLOR_MARCA = { falla: '#d62728', recuperacion: '#2ca02c', rol: '#000000', breaker: '#c51b8a', proceso: '#636363' };

  function colorSerie(nombre, i) {
    if (nombre === 'total') return COLOR_TOTAL;
    if (nombre === 'fallidas' || nombre === 'sin éxito' || nombre === 'errores') return COLOR_FALLOS;
    return COLORES[i % COLORES.length];
  }

  function marcasPlugin(estado) {
    return {
      hooks: {
        draw: [
          function (u) {
            var ctx = u.ctx;
            var top = u.bbox.top;
            var h = u.bbox.height;
            var left = u.bbox.left;
            var right = left + u.bbox.width;
            var px = window.devicePixelRatio || 1;
            var visibles = estado.marcas.filter(function (m) {
              var x = u.valToPos(m.t, 'x', true);
              return x >= left && x <= right;
            });
            ctx.save();
            ctx.font = Math.round(11 * px) + 'px sans-serif';
            // Lines: fault and recovery drawn last, on top of a role change at the same moment.
            var orden = { rol: 0, proceso: 1, breaker: 2, recuperacion: 3, falla: 4 };
            visibles.slice().sort(function (a, b) { return (orden[a.tipo] || 0) - (orden[b.tipo] || 0); }).forEach(function (m) {
              var x = Math.round(u.valToPos(m.t, 'x', true));
              ctx.strokeStyle = COLOR_MARCA[m.tipo] || '#000000';
              ctx.lineWidth = 2 * px;
              ctx.setLineDash([6 * px, 4 * px]);
              ctx.beginPath();
              ctx.moveTo(x, top);
              ctx.lineTo(x, top + h);
              ctx.stroke();
            });
            // Labels only for the fault, the recovery and role changes, the latest MAX_FILAS of
            // them, one row each: many labels would hide the lines they explain. Every mark
            // is in the list under the chart.
            var etiquetadas = visibles.filter(function (m) { return ETIQUETADAS[m.tipo]; }).slice(-MAX_FILAS);
            etiquetadas.forEach(function (m, i) {
              var x = Math.round(u.valToPos(m.t, 'x', true));
              var color = COLOR_MARCA[m.tipo] || '#000000';
              var texto = m.texto.length > 40 ? m.texto.slice(0, 39) + '…' : m.texto;
              var w = ctx.measureText(texto).width;
              var tx = Math.max(left, x + 4 * px + w > right ? x - 4 * px - w : x + 4 * px);
              var ty = top + (12 + i * 13) * px;
              ctx.fillStyle = 'rgba(255,255,255,0.75)';
              ctx.fillRect(tx - 2 * px, ty - 10 * px, w + 4 * px, 13 * px);
              ctx.fillStyle = color;
              ctx.fillText(texto, tx, ty);
            });
            ctx.restore();
          },
        ],
      },
    };
  }

  function datos(g) {
    return [g.x].concat(g.series.map(function (s) { return s.valores; }));
  }

  function formatoT(tiempoReal, t) {
    if (tiempoReal) return new Date(t * 1000).toLocaleTimeString('es-ES');
    return '+' + t.toFixed(1) + ' s';
  }

  function leyendaMarcas(ul, marcas, tiempoReal) {
    ul.textContent = '';
    marcas.forEach(function (m) {
      var li = document.createElement('li');
      li.className = 'marca marca-' + m.tipo;
      li.style.borderLeftColor = COLOR_MARCA[m.tipo] || '#000';
      li.textContent = formatoT(tiempoReal, m.t) + '  ' + m.texto;
      ul.appendChild(li);
    });
  }

  /**
   * Draws `g` into `contenedor`. opciones.tiempoReal: x is epoch seconds (the live panel);
   * otherwise seconds since the run started (reports). opciones.leyendaMarcas false: no list
   * of the marks under the chart. Returns { u, actualizar(g), destruir() }.
   */
  function crear(contenedor, g, opciones) {
    opciones = opciones || {};
    var tiempoReal = !!opciones.tiempoReal;
    var figura = document.createElement('figure');
    figura.className = 'grafico';
    figura.setAttribute('data-titulo', g.titulo);
    // A zero-height strip as wide as the figure's content: what the chart's width follows.
    // Watching the figure itself would also see the height a resize gives the chart.
    var medida = document.createElement('div');
    medida.className = 'medida';
    var lienzo = document.createElement('div');
    var ul = document.createElement('ul');
    ul.className = 'marcas';
    figura.appendChild(medida);
    figura.appendChild(lienzo);
    figura.appendChild(ul);
    contenedor.appendChild(figura);
    var estado = { marcas: g.marcas || [] };
    // The figure's own width: in a grid of charts it is one cell, not the whole row.
    var ancho = function () { return Math.max(300, (figura.clientWidth || contenedor.clientWidth || 800) - 10); };
    var opts = {
      title: g.titulo,
      width: ancho(),
      height: opciones.alto || 240,
      scales: { x: { time: tiempoReal } },
      series: [{ label: tiempoReal ? 'hora' : 't (s)', value: function (u, v) { return v === null ? '' : formatoT(tiempoReal, v); } }].concat(
        g.series.map(function (s, i) {
          return { label: s.nombre, stroke: colorSerie(s.nombre, i), width: s.nombre === 'total' ? 2 : 1.5, spanGaps: false, dash: s.nombre === 'fallidas' || s.nombre === 'errores' ? [4, 3] : undefined };
        }),
      ),
      axes: [{}, { label: g.unidad, size: 60 }],
      plugins: [marcasPlugin(estado)],
    };
    var u = new uPlot(opts, datos(g), lienzo);
    // The panel lists its events once, below all the charts; a report lists each chart's marks under it.
    var conLeyenda = opciones.leyendaMarcas !== false;
    if (conLeyenda) leyendaMarcas(ul, estado.marcas, tiempoReal);
    var registro = { titulo: g.titulo, u: u, marcas: estado.marcas, figura: figura };
    (window.__graficos = window.__graficos || []).push(registro);
    // The figure's width changes without a window resize: a grid of charts built one at a
    // time gives the first one the whole row until the next ones take their cells.
    var anchoDibujado = opts.width;
    var observador = new ResizeObserver(function () {
      var a = ancho();
      if (a === anchoDibujado) return;
      anchoDibujado = a;
      u.setSize({ width: a, height: opts.height });
    });
    observador.observe(medida);
    return {
      u: u,
      series: g.series.map(function (s) { return s.nombre; }).join('|'),
      destruir: function () {
        observador.disconnect();
        u.destroy();
        figura.remove();
        window.__graficos = window.__graficos.filter(function (r) { return r !== registro; });
      },
      actualizar: function (nuevo) {
        estado.marcas = nuevo.marcas || [];
        registro.marcas = estado.marcas;
        u.setData(datos(nuevo));
        if (conLeyenda) leyendaMarcas(ul, estado.marcas, tiempoReal);
      },
    };
  }

  window.Graficos = { crear: crear, COLOR_MARCA: COLOR_MARCA };
})();
