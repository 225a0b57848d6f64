import { html } from 'hono/html';
import type { LogEvent } from '../domain/event.js';
import { durationInWords, scheduleInWords } from './schedule-in-words.js';
import type { DebtJson, OccurrenceJson } from '../engine/debt-view.js';
import { latenessInWords, relativeTime, statusWord, toneOf } from './format.js';
import { instant, pill } from './layout.js';
import { barChart } from './svg-chart.js';

/** Everything a debt's page shows, read from the engine by the route. */
export interface DebtPageData {
  debt: DebtJson;
  upcoming: OccurrenceJson[];
  /** Closed and current occurrences, newest first. */
  ledger: OccurrenceJson[];
  /** Newest first. */
  events: LogEvent[];
  canWrite: boolean;
  csrf: string;
  nowMs: number;
}

// The longest message shown per event: the tail, where a job's output says why it failed.
const MESSAGE_TAIL_CHARS = 2000;

/** The debt page's content. */
export function debtContent(d: DebtPageData) {
  const { debt } = d;
  const chartPoints = [...d.ledger]
    .reverse()
    .filter((o) => o.durationSeconds !== null)
    .slice(-60)
    .map((o) => ({ label: o.businessDate || o.scheduledAt.slice(0, 10), value: o.durationSeconds }));
  return html`<p class="small"><a href="/">← Debts</a></p>
    <h1>${debt.name || debt.id} ${pill(debt.status, toneOf(debt.status), statusWord(debt.status))}</h1>
    <div class="grid2">
      <section class="card" aria-labelledby="def-h">
        <h2 id="def-h">Definition</h2>
        <dl class="def">
          <dt>Schedule</dt>
          <dd id="schedule-words">${scheduleInWords(debt.schedule, debt.grace)}</dd>
          <dt>Id</dt>
          <dd class="id">${debt.id}</dd>
          ${
            debt.startWithin !== null
              ? html`<dt>Start within</dt>
                  <dd>${durationInWords(debt.startWithin)}</dd>`
              : ''
          }
          ${
            debt.maxRuntime !== null
              ? html`<dt>Max runtime</dt>
                  <dd>${durationInWords(debt.maxRuntime)}</dd>`
              : ''
          }
          ${
            debt.minRuntime !== null
              ? html`<dt>Min runtime</dt>
                  <dd>${durationInWords(debt.minRuntime)}</dd>`
              : ''
          }
          ${
            debt.stages.length
              ? html`<dt>Stages</dt>
                  <dd>${debt.stages.join(' → ')}</dd>`
              : ''
          }
          <dt>Alerts after</dt>
          <dd>${debt.failuresBeforeAlert} failed run${debt.failuresBeforeAlert === 1 ? '' : 's'}</dd>
          <dt>Labels</dt>
          <dd>
            ${
              Object.keys(debt.labels).length
                ? Object.entries(debt.labels).map(([k, v]) => html`<span class="label">${k}=${v}</span>`)
                : '—'
            }
          </dd>
          <dt>Ping URL</dt>
          <dd class="id">/ping/${debt.pingId}</dd>
          <dt>Payments</dt>
          <dd>${debt.payments}</dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="now-h">
        <h2 id="now-h">Now</h2>
        <dl class="def">
          <dt>Status</dt>
          <dd>${pill(debt.status, toneOf(debt.status), statusWord(debt.status))}</dd>
          <dt>Next deadline</dt>
          <dd>
            ${debt.nextDeadline ? html`${relativeTime(Date.parse(debt.nextDeadline), d.nowMs)} · ${instant(debt.nextDeadline)}` : '—'}
          </dd>
          <dt>Last success</dt>
          <dd>
            ${debt.lastSuccess ? html`${relativeTime(Date.parse(debt.lastSuccess), d.nowMs)} · ${instant(debt.lastSuccess)}` : 'never'}
          </dd>
          <dt>Last duration</dt>
          <dd>${debt.lastDurationSeconds !== null ? durationInWords(debt.lastDurationSeconds) : '—'}</dd>
        </dl>
        ${
          d.canWrite
            ? html`<form method="post" action="/console/debts/${debt.id}/${debt.paused ? 'resume' : 'pause'}">
                <input type="hidden" name="csrf" value="${d.csrf}" />
                <p><button type="submit">${debt.paused ? 'Resume' : 'Pause'} this debt</button></p>
              </form>`
            : html`<p class="small muted">Pausing needs a token with the write scope.</p>`
        }
      </section>
    </div>
    <section aria-labelledby="chart-h">
      <h2 id="chart-h">Run durations</h2>
      <div class="card">
        ${barChart(chartPoints, `Run duration per occurrence of ${debt.id}, with its trend`, durationInWords)}
        <p class="small muted">Bars: duration of each paid run, oldest left. Dashed line: least-squares trend.</p>
      </div>
    </section>
    <section aria-labelledby="upcoming-h">
      <h2 id="upcoming-h">Upcoming deadlines</h2>
      ${
        d.upcoming.length
          ? html`<div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Business date</th>
                    <th scope="col">Scheduled</th>
                    <th scope="col">Deadline</th>
                  </tr>
                </thead>
                <tbody>
                  ${d.upcoming.map(
                    (o) =>
                      html`<tr>
                        <td>${o.businessDate}</td>
                        <td>${instant(o.scheduledAt)}</td>
                        <td>${instant(o.deadline)} <span class="small muted">${relativeTime(Date.parse(o.deadline), d.nowMs)}</span></td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
          : html`<p class="muted">
              ${debt.paused ? 'Paused: nothing falls due.' : 'None scheduled ahead (interval schedules fall due after each success).'}
            </p>`
      }
    </section>
    <section aria-labelledby="ledger-h">
      <h2 id="ledger-h">Ledger</h2>
      ${
        d.ledger.length
          ? html`<div class="scroll">
              <table id="ledger">
                <thead>
                  <tr>
                    <th scope="col">Business date</th>
                    <th scope="col">Deadline</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Paid</th>
                    <th scope="col">Duration</th>
                    <th scope="col">Lateness</th>
                  </tr>
                </thead>
                <tbody>
                  ${d.ledger.map(
                    (o) =>
                      html`<tr>
                        <td>${o.businessDate}</td>
                        <td>${instant(o.deadline)}</td>
                        <td>${pill(o.outcome, toneOf(o.outcome), statusWord(o.outcome))}</td>
                        <td>${instant(o.paidAt)}</td>
                        <td>${o.durationSeconds !== null ? durationInWords(o.durationSeconds) : '—'}</td>
                        <td>${latenessInWords(o.latenessSeconds, durationInWords)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
          : html`<p class="muted">No occurrence has fallen due yet.</p>`
      }
    </section>
    <section aria-labelledby="events-h">
      <h2 id="events-h">Recent events</h2>
      ${
        d.events.length
          ? html`<div class="scroll">
              <table id="events">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Event</th>
                    <th scope="col">Details</th>
                  </tr>
                </thead>
                <tbody>
                  ${d.events.map((e) => eventRow(e))}
                </tbody>
              </table>
            </div>`
          : html`<p class="muted">No events.</p>`
      }
    </section>`;
}

function eventRow(e: LogEvent) {
  const payment = e.type === 'payment' ? e.attributes : null;
  const message = payment?.message ?? '';
  const tail = message.length > MESSAGE_TAIL_CHARS ? `…${message.slice(-MESSAGE_TAIL_CHARS)}` : message;
  let what: string = e.type;
  if (e.type === 'payment') what = `payment: ${e.kind}`;
  else if (e.type === 'debt.status_changed') what = `status → ${statusWord(e.status)}`;
  const details = [
    e.type === 'occurrence.closed' ? `${statusWord(e.status)}` : '',
    e.runId ? `run ${e.runId}` : '',
    e.host ? `host ${e.host}` : '',
    e.durationMs !== null ? `took ${durationInWords(e.durationMs / 1000)}` : '',
    payment?.exitCode !== undefined ? `exit ${payment.exitCode}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return html`<tr>
    <td class="small">${instant(new Date(e.ts).toISOString())}</td>
    <td>${what}</td>
    <td class="small">${details}${tail ? html`<pre>${tail}</pre>` : ''}</td>
  </tr>`;
}
