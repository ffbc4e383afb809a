// The report's inline CSS and render-check JavaScript (assets.h).
#include "report/internal/assets.h"

namespace fedrad::report_internal {

const char kCss[] = R"css(
:root { --ink:#1d2330; --muted:#5b6475; --line:#d9dde5; --accent:#0b5cad; --warn:#9a5b00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: #f4f6f9; }
header.top { background: #17324d; color: #fff; padding: 18px 28px; }
header.top h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header.top .sub { color: #c9d6e3; font-size: 13px; }
nav.toc { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 28px; font-size: 13px; }
nav.toc a { color: var(--accent); margin-right: 14px; text-decoration: none; }
main { max-width: 1240px; margin: 0 auto; padding: 12px 20px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 16px 0;
          padding: 14px 20px 18px; }
section h2 { margin: 0 0 8px; font-size: 18px; color: #17324d; }
section h3 { margin: 16px 0 6px; font-size: 15px; color: #17324d; }
section.absent { color: var(--muted); padding: 10px 20px; }
section.absent h2 { color: var(--muted); font-size: 16px; display: inline; margin-right: 10px; }
p.lead { color: var(--muted); margin: 0 0 10px; }
p.note, div.note { color: var(--muted); font-size: 12.5px; margin: 6px 0; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.mono, span.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
                     word-break: break-all; }
.supp { color: var(--warn); font-style: italic; }
.bad { color: #b00020; font-weight: 600; }
.good { color: #1b7f3b; font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 12px; color: var(--muted); max-width: 460px; margin-top: 2px; }
table.atrisk { font-size: 11px; margin: 0 0 6px 0; }
table.atrisk th, table.atrisk td { padding: 1px 5px; border: none; text-align: right; }
table.atrisk th { text-align: left; font-weight: 600; background: none; }
ul.glance { margin: 4px 0 0 0; padding-left: 20px; }
ul.glance li { margin: 3px 0; }
.kv th { width: 230px; }
details.render-check { margin-top: 20px; color: var(--muted); font-size: 12px; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px; }
@media print { body { background: #fff; } section { break-inside: avoid; border: none; } nav.toc { display: none; } }
)css";

const char kRenderCheckScript[] = R"js(
(function () {
  var svgs = document.querySelectorAll('svg.plot');
  var lines = [], ok = 0;
  for (var i = 0; i < svgs.length; i++) {
    var s = svgs[i], b = s.getBBox(), data = s.querySelector('g[clip-path]');
    var d = data ? data.getBBox() : { width: 0, height: 0 };
    var good = b.width > 0 && b.height > 0 && d.width > 0 && d.height > 0;
    s.setAttribute('data-rendered', good ? 'yes' : 'no');
    if (good) ok++;
    lines.push((good ? 'ok ' : 'EMPTY ') + s.getAttribute('data-plot-id') + ' ' +
               Math.round(b.width) + 'x' + Math.round(b.height) + ' data ' +
               Math.round(d.width) + 'x' + Math.round(d.height));
  }
  var el = document.getElementById('render-check');
  el.setAttribute('data-total', String(svgs.length));
  el.setAttribute('data-ok', String(ok));
  el.setAttribute('data-height', String(document.documentElement.scrollHeight));
  el.textContent = 'plots ' + svgs.length + ' rendered ' + ok + '\n' + lines.join('\n');
})();
)js";

}  // namespace fedrad::report_internal
