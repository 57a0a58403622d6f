/*
 * Renders a report page from the view inlined in <script id="vista"> (built by
 * informes/vista.ts): per section its lines, verdict, tables and charts.
 * Plain browser script, no build step.
 */
(function () {
  'use strict';
  var vista = JSON.parse(document.getElementById('vista').textContent);
  var main = document.getElementById('informe');

  function el(tag, clase, texto) {
    var e = document.createElement(tag);
    if (clase) e.className = clase;
    if (texto !== undefined) e.textContent = texto;
    return e;
  }

  function tabla(t) {
    var wrap = el('div', 'tabla');
    if (t.titulo) wrap.appendChild(el('h3', '', t.titulo));
    var table = el('table');
    var tr = el('tr');
    t.cabecera.forEach(function (c) { tr.appendChild(el('th', '', c)); });
    var thead = el('thead');
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el('tbody');
    t.filas.forEach(function (f) {
      var r = el('tr');
      f.forEach(function (c) {
        var td = el('td', /^(OK|INFO|FALLO)$/.test(c) ? 'v-' + c : /^[-+]?[\d.,]+( ms| s| B)?$/.test(c) ? 'num' : '', c);
        r.appendChild(td);
      });
      tbody.appendChild(r);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    return wrap;
  }

  vista.secciones.forEach(function (s) {
    var sec = el('section', 'seccion');
    sec.appendChild(el('h2', '', s.titulo));
    if (s.veredicto) sec.appendChild(el('p', s.veredicto.ok ? 'veredicto ok' : 'veredicto fallo', s.veredicto.texto));
    if (s.lineas.length) {
      var ul = el('ul', 'lineas');
      s.lineas.forEach(function (l) { ul.appendChild(el('li', '', l)); });
      sec.appendChild(ul);
    }
    main.appendChild(sec);
    // Tables first: the summary is what a reader compares; the charts explain it.
    var tablas = el('div', 'tablas');
    s.tablas.forEach(function (t) { tablas.appendChild(tabla(t)); });
    sec.appendChild(tablas);
    var graficos = el('div', 'graficos');
    sec.appendChild(graficos);
    s.graficos.forEach(function (g) { Graficos.crear(graficos, g, { alto: 260 }); });
  });
  document.body.setAttribute('data-listo', '1');
})();
