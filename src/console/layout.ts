import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** What every page shows around its content. */
export interface PageFrame {
  title: string;
  /** Which tab of the navigation is current. */
  section: 'debts' | 'slos' | 'login';
  nonce: string;
  /** Project and token name shown in the header; absent on the login page. */
  who?: { project: string; name: string; canLogOut: boolean; csrf: string };
  /** Seconds between in-place refreshes of `#live`; none: no refresh. */
  refreshSeconds?: number;
}

// Plain system fonts and dark-on-light colours with AA contrast; every status colour comes
// with its word, so colour is never the only cue.
const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
a{color:#0550ae}
header{background:#fff;border-bottom:1px solid #d0d7de}
.bar{max-width:1200px;margin:0 auto;padding:10px 16px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
.brand{font-weight:700;font-size:17px;color:#1f2328;text-decoration:none}
nav a{margin-right:14px;text-decoration:none;padding:4px 2px}
nav a[aria-current=page]{font-weight:600;border-bottom:2px solid #0550ae}
.who{margin-left:auto;color:#57606a;font-size:13px;display:flex;gap:10px;align-items:center}
main{max-width:1200px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:8px 0 12px}
h2{font-size:17px;margin:22px 0 8px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 14px;margin-bottom:14px}
caption{text-align:left;padding:4px 0}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d0d7de;border-radius:6px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600;font-size:13px;color:#3d444d}
tbody tr:hover{background:#f6f8fa}
.scroll{overflow-x:auto}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:13px;font-weight:600;white-space:nowrap;border:1px solid}
.pill::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:5px;background:currentColor}
.ok{color:#1a7f37;background:#dafbe1;border-color:#a6e3b8}
.warn{color:#7d4e00;background:#fff8c5;border-color:#e6cf6f}
.bad{color:#b3261e;background:#ffebe9;border-color:#f5b5ae}
.info{color:#0550ae;background:#ddf4ff;border-color:#9cd0f5}
.idle{color:#4d545c;background:#eaeef2;border-color:#c8d0d8}
.muted{color:#57606a}
.small{font-size:13px}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px;color:#57606a}
.label{display:inline-block;font-size:12px;background:#eaeef2;border-radius:4px;padding:0 6px;margin:1px 2px 1px 0}
form.filters{display:flex;gap:10px;flex-wrap:wrap;align-items:end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:13px;color:#3d444d;gap:3px}
input,select,button{font:inherit;padding:5px 8px;border:1px solid #8c959f;border-radius:5px;background:#fff;color:#1f2328}
button{cursor:pointer;background:#f6f8fa}
button.primary{background:#1f6feb;border-color:#1f6feb;color:#fff}
.pager{display:flex;gap:12px;align-items:center;margin:10px 0}
dl.def{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.def dt{color:#57606a}
dl.def dd{margin:0}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;border:1px solid #eaeef2;border-radius:4px;padding:6px;
  margin:4px 0 0;font-size:12px;max-height:160px;overflow:auto}
svg.chart{width:100%;max-width:760px;height:auto;background:#fff}
svg.chart .bar{fill:#54aeff}
svg.chart .bar.neg{fill:#4ac26b}
svg.chart .trend{stroke:#cf222e;stroke-width:2;stroke-dasharray:6 4}
svg.chart .axis{stroke:#8c959f}
svg.chart .tick{font-size:11px;fill:#57606a}
.error{border-color:#f5b5ae;background:#ffebe9}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px}
@media (max-width:700px){.hide-narrow{display:none}}
`;

// Shows instants in the viewer's own zone (the server only knows UTC) and, where the page asks
// for it, refreshes the live region in place. Without JavaScript the page shows UTC and the
// browser's reload does the rest.
const SCRIPT = `
(function(){
  var fmt = new Intl.DateTimeFormat(undefined,
    {year:'numeric',month:'short',day:'numeric',hour:'2-digit',minute:'2-digit',timeZoneName:'short'});
  function localize(root){
    root.querySelectorAll('time[data-local]').forEach(function(t){
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d)) { t.title = t.textContent; t.textContent = fmt.format(d); }
    });
  }
  localize(document);
  var every = Number(document.body.getAttribute('data-refresh'));
  if (!every) return;
  setInterval(function(){
    if (document.hidden) return;
    fetch(location.href,{headers:{accept:'text/html'},credentials:'same-origin'})
    .then(function(r){ return r.ok ? r.text() : null; }).then(function(text){
      if (!text) return;
      var next = new DOMParser().parseFromString(text,'text/html').getElementById('live');
      var live = document.getElementById('live');
      if (next && live) { live.replaceWith(next); localize(next); }
    }).catch(function(){});
  }, every * 1000);
})();
`;

/** A whole HTML page around `content`. */
export function page(frame: PageFrame, content: Html): Html {
  const nav = (section: PageFrame['section'], href: string, label: string) =>
    html`<a href="${href}" ${frame.section === section ? raw('aria-current="page"') : ''}>${label}</a>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${frame.title} · compter</title>
        <style nonce="${frame.nonce}">
          ${raw(CSS)}
        </style>
      </head>
      <body data-refresh="${frame.refreshSeconds ?? ''}">
        <header>
          <div class="bar">
            <a class="brand" href="/">compter</a>
            ${
              frame.who
                ? html`<nav aria-label="Sections">${nav('debts', '/', 'Debts')}${nav('slos', '/console/slos', 'SLOs and trends')}</nav>`
                : ''
            }
            ${
              frame.who
                ? html`<div class="who">
                    <span>project <strong>${frame.who.project}</strong> · ${frame.who.name}</span>
                    ${
                      frame.who.canLogOut
                        ? html`<form method="post" action="/console/logout">
                            <input type="hidden" name="csrf" value="${frame.who.csrf}" /><button type="submit">Log out</button>
                          </form>`
                        : ''
                    }
                  </div>`
                : ''
            }
          </div>
        </header>
        <main>${content}</main>
        <script nonce="${frame.nonce}">
          ${raw(SCRIPT)};
        </script>
      </body>
    </html>`;
}

/** An instant as `<time>`: UTC text that the page script turns into the viewer's zone. */
export function instant(isoText: string | null): Html | string {
  if (!isoText) return '—';
  const text = isoText
    .replace('T', ' ')
    .replace(/(:\d\d)\.\d{3}Z$/, '$1 UTC')
    .replace(/:00 UTC$/, ' UTC');
  return html`<time datetime="${isoText}" data-local>${text}</time>`;
}

/** A status word in its colour. */
export function pill(status: string, tone: string, word: string): Html {
  return html`<span class="pill ${tone}" data-status="${status}">${word}</span>`;
}
