import { html } from 'hono/html';
import { DEBT_STATUSES } from '../domain/debts/debt-types.js';
import type { DebtBrief, DebtJson } from '../engine/debt-view.js';
import { durationInWords } from './schedule-in-words.js';
import { relativeTime, statusWord, toneOf } from './format.js';
import { instant, pill } from './layout.js';

/** The debt statuses a person can filter by, in the order the filter offers them: the domain's. */
export { DEBT_STATUSES };

/** What the list is filtered by. */
export interface DebtFilter {
  q: string;
  status: string;
  /** `key` or `key=value`. */
  label: string;
  page: number;
}

/** Debts per page: one screen to scan, and a page renders in milliseconds at any size. */
export const PAGE_SIZE = 50;

/** True when the debt passes the filter: text in id or name, the status, the label. */
export function matchesFilter(debt: DebtBrief, filter: DebtFilter): boolean {
  if (filter.status && debt.status !== filter.status) return false;
  if (filter.q) {
    const q = filter.q.toLowerCase();
    if (!debt.id.includes(q) && !debt.name.toLowerCase().includes(q)) return false;
  }
  if (filter.label) {
    const eq = filter.label.indexOf('=');
    const key = eq < 0 ? filter.label : filter.label.slice(0, eq);
    const value = eq < 0 ? undefined : filter.label.slice(eq + 1);
    if (!(key in debt.labels)) return false;
    if (value !== undefined && debt.labels[key] !== value) return false;
  }
  return true;
}

// Overdue and failing debts first: the list is read by someone looking for trouble.
const URGENCY: Record<string, number> = { overdue: 0, failed: 1, timed_out: 2, late: 3, blocked: 4, running: 5 };

/** Orders debts by urgency, then id. */
export function byUrgency(a: DebtBrief, b: DebtBrief): number {
  const d = (URGENCY[a.status] ?? 9) - (URGENCY[b.status] ?? 9);
  return d !== 0 ? d : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The list page's content: filter form, counts, one page of the table, pager. */
export function debtsContent(
  pageDebts: readonly { debt: DebtJson; lastOutcome: string | null }[],
  counts: { matching: number; total: number; byStatus: Record<string, number> },
  filter: DebtFilter,
  nowMs: number,
) {
  const pages = Math.max(1, Math.ceil(counts.matching / PAGE_SIZE));
  const link = (p: number) => {
    const params = new URLSearchParams();
    if (filter.q) params.set('q', filter.q);
    if (filter.status) params.set('status', filter.status);
    if (filter.label) params.set('label', filter.label);
    params.set('page', String(p));
    return `/?${params.toString()}`;
  };
  const summary = Object.entries(counts.byStatus)
    .sort(([a], [b]) => (URGENCY[a] ?? 9) - (URGENCY[b] ?? 9))
    .map(
      ([status, n]) =>
        html`<a href="/?status=${status}" class="pill ${toneOf(status)}" data-status="${status}">${n} ${statusWord(status)}</a> `,
    );
  return html`<h1>Debts</h1>
    <form class="filters" method="get" action="/" role="search">
      <label>Search <input type="search" name="q" value="${filter.q}" placeholder="id or name" maxlength="200" /></label>
      <label
        >Status
        <select name="status">
          <option value="">any</option>
          ${DEBT_STATUSES.map((s) => html`<option value="${s}" ${s === filter.status ? 'selected' : ''}>${statusWord(s)}</option>`)}
        </select></label
      >
      <label>Label <input type="text" name="label" value="${filter.label}" placeholder="team=billing" maxlength="200" /></label>
      <button type="submit" class="primary">Filter</button>
      ${filter.q || filter.status || filter.label ? html`<a href="/">Clear</a>` : ''}
    </form>
    <div id="live">
      <p class="small">${summary.length ? summary : html`<span class="muted">No debts yet.</span>`}</p>
      <p class="muted small" id="count">
        ${counts.matching} of ${counts.total} debts${pages > 1 ? ` · page ${filter.page} of ${pages}` : ''}
      </p>
      <div class="scroll">
        <table>
          <caption class="muted small">
            Debts, most urgent first
          </caption>
          <thead>
            <tr>
              <th scope="col">Debt</th>
              <th scope="col">Status</th>
              <th scope="col">Next deadline</th>
              <th scope="col">Last run</th>
              <th scope="col" class="hide-narrow">Labels</th>
            </tr>
          </thead>
          <tbody>
            ${
              pageDebts.length === 0
                ? html`<tr>
                    <td colspan="5" class="muted">No debt matches.</td>
                  </tr>`
                : pageDebts.map(({ debt, lastOutcome }) => debtRow(debt, lastOutcome, nowMs))
            }
          </tbody>
        </table>
      </div>
      ${
        pages > 1
          ? html`<nav class="pager" aria-label="Pages">
              ${filter.page > 1 ? html`<a href="${link(filter.page - 1)}" rel="prev">← Previous</a>` : ''}
              <span class="muted">Page ${filter.page} of ${pages}</span>
              ${filter.page < pages ? html`<a href="${link(filter.page + 1)}" rel="next">Next →</a>` : ''}
            </nav>`
          : ''
      }
    </div>`;
}

function debtRow(debt: DebtJson, lastOutcome: string | null, nowMs: number) {
  const next = debt.nextDeadline;
  return html`<tr data-debt="${debt.id}">
    <td>
      <a href="/console/debts/${debt.id}">${debt.name || debt.id}</a>
      ${debt.name && debt.name !== debt.id ? html`<div class="id">${debt.id}</div>` : ''}
    </td>
    <td>${pill(debt.status, toneOf(debt.status), statusWord(debt.status))}</td>
    <td>
      ${
        next
          ? html`${relativeTime(Date.parse(next), nowMs)}
              <div class="small muted">${instant(next)}</div>`
          : html`<span class="muted">—</span>`
      }
    </td>
    <td>
      ${lastOutcome ? pill(lastOutcome, toneOf(lastOutcome), statusWord(lastOutcome)) : html`<span class="muted">none yet</span>`}
      ${debt.lastDurationSeconds !== null ? html`<span class="small">took ${durationInWords(debt.lastDurationSeconds)}</span>` : ''}
      ${debt.lastSuccess ? html`<div class="small muted">last success ${relativeTime(Date.parse(debt.lastSuccess), nowMs)}</div>` : ''}
    </td>
    <td class="hide-narrow">${Object.entries(debt.labels).map(([k, v]) => html`<span class="label">${k}=${v}</span>`)}</td>
  </tr>`;
}
