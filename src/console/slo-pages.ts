import { html } from 'hono/html';
import { durationInWords } from './schedule-in-words.js';
import type { PerformanceRowJson, SloJson } from '../engine/slo-view.js';
import type { JobDurationSeries, JobTrendJson, SloTrendJson } from '../engine/trend-service.js';
import { latenessInWords, statusWord, toneOf } from './format.js';
import { instant, pill } from './layout.js';
import { barChart } from './svg-chart.js';

function ratio(r: number | null): string {
  return r === null ? '—' : `${Math.round(r * 100)} %`;
}

function slope(secondsPerDay: number | null): string {
  if (secondsPerDay === null) return '—';
  if (Math.abs(secondsPerDay) < 0.5) return 'flat';
  return `${secondsPerDay > 0 ? '+' : '−'}${durationInWords(Math.abs(secondsPerDay))} / day`;
}

/** The job trends table: slope of duration and end lateness, p50/p90, projected breach. */
export function jobTrendsTable(jobs: readonly JobTrendJson[]) {
  if (jobs.length === 0) return html`<p class="muted">No job has reported enough runs for a trend yet.</p>`;
  return html`<div class="scroll">
    <table id="job-trends">
      <thead>
        <tr>
          <th scope="col">Job</th>
          <th scope="col">Runs</th>
          <th scope="col">Duration trend</th>
          <th scope="col">End lateness trend</th>
          <th scope="col">p50 / p90 duration</th>
          <th scope="col">Projected breach</th>
        </tr>
      </thead>
      <tbody>
        ${jobs.map(
          (j) =>
            html`<tr>
              <td>${j.application} / <strong>${j.job}</strong></td>
              <td>${j.runs}</td>
              <td>${slope(j.durationSlopeSecondsPerDay)}</td>
              <td>${slope(j.endLatenessSlopeSecondsPerDay)}</td>
              <td>
                ${j.p50DurationSeconds !== null ? durationInWords(j.p50DurationSeconds) : '—'} /
                ${j.p90DurationSeconds !== null ? durationInWords(j.p90DurationSeconds) : '—'}
              </td>
              <td>
                ${j.projectedBreachDate ? pill('at_risk', 'warn', j.projectedBreachDate) : html`<span class="muted">none ahead</span>`}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The SLO list page's content: each SLO with its current row and on-time ratio, then job trends. */
export function slosContent(slos: readonly SloJson[], sloTrends: ReadonlyMap<string, SloTrendJson>, jobs: readonly JobTrendJson[]) {
  return html`<h1>SLOs</h1>
    ${
      slos.length === 0
        ? html`<p class="muted">No SLOs are defined in this project.</p>`
        : html`<div class="scroll">
            <table id="slos">
              <thead>
                <tr>
                  <th scope="col">SLO</th>
                  <th scope="col">Status</th>
                  <th scope="col">Business date</th>
                  <th scope="col">Expected end</th>
                  <th scope="col">Predicted end</th>
                  <th scope="col">On time (30 days)</th>
                  <th scope="col">Bias</th>
                </tr>
              </thead>
              <tbody>
                ${slos.map((s) => {
                  const t = sloTrends.get(s.id);
                  return html`<tr data-slo="${s.id}">
                    <td>
                      <a href="/console/slos/${s.id}">${s.name || s.id}</a>
                      <div class="id">${s.application} · calendar ${s.calendar}</div>
                    </td>
                    <td>${pill(s.status, toneOf(s.status), statusWord(s.status))}</td>
                    <td>${s.current ? `${s.current.businessDate}${s.current.slot ? ` ${s.current.slot}` : ''}` : '—'}</td>
                    <td>${instant(s.current?.expectedEnd ?? null)}</td>
                    <td>${instant(s.current?.predictedEnd ?? null)}</td>
                    <td>${ratio(t?.onTimeRatio ?? null)}</td>
                    <td>${t && t.bias !== 'none' ? `routinely ${t.bias}` : '—'}</td>
                  </tr>`;
                })}
              </tbody>
            </table>
          </div>`
    }
    <h2>Job trends</h2>
    ${jobTrendsTable(jobs)}`;
}

/** A row's status pill, with the upstream SLOs that hold it up (`blockedBy`) beside it. */
function rowStatus(r: PerformanceRowJson) {
  const status = pill(r.status, toneOf(r.status), statusWord(r.status));
  if (!r.blockedBy?.length) return status;
  return html`${status}
    <div class="small muted">
      blocked by ${r.blockedBy.map((id, i) => html`${i > 0 ? ', ' : ''}<a href="/console/slos/${id}">${id}</a>`)}
    </div>`;
}

/** An SLO's page: definition, lateness chart with trend, the performance rows, its jobs' trends. */
export function sloContent(
  slo: SloJson,
  rows: readonly PerformanceRowJson[],
  trend: SloTrendJson | undefined,
  jobs: readonly JobTrendJson[],
  durations: readonly JobDurationSeries[] = [],
) {
  // Excused rows (maintenance) are left out of the lateness chart, as they are of the trends.
  const closed = rows.filter((r) => r.status !== 'not_scheduled' && r.status !== 'excused');
  const points = closed
    .filter((r) => r.latenessSeconds !== null)
    .slice(-60)
    .map((r) => ({ label: r.slot ? `${r.businessDate} ${r.slot}` : r.businessDate, value: r.latenessSeconds }));
  const newestFirst = [...rows].reverse().slice(0, 200);
  return html`<p class="small"><a href="/console/slos">← SLOs</a></p>
    <h1>${slo.name || slo.id} ${pill(slo.status, toneOf(slo.status), statusWord(slo.status))}</h1>
    <div class="grid2">
      <section class="card" aria-labelledby="def-h">
        <h2 id="def-h">Definition</h2>
        <dl class="def">
          <dt>Id</dt>
          <dd class="id">${slo.id}</dd>
          <dt>Application</dt>
          <dd>${slo.application}</dd>
          <dt>Calendar</dt>
          <dd>${slo.calendar}</dd>
          ${
            slo.within
              ? html`<dt>Slots</dt>
                  <dd class="id">${slo.within.cron}</dd>`
              : ''
          }
          <dt>Slack</dt>
          <dd>${durationInWords(slo.slack)}</dd>
          ${
            slo.after.length
              ? html`<dt>Runs after</dt>
                  <dd>${slo.after.map((id, i) => html`${i > 0 ? ', ' : ''}<a class="id" href="/console/slos/${id}">${id}</a>`)}</dd>`
              : ''
          }
          <dt>Jobs</dt>
          <dd>
            ${slo.jobs.map(
              (j) =>
                html`<div>
                  ${j.application} / <strong>${j.job}</strong>
                  <span class="small muted">start ${j.expectedStart ?? '—'}, end ${j.expectedEnd}</span>
                </div>`,
            )}
          </dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="trend-h">
        <h2 id="trend-h">Trend (30 business days)</h2>
        <dl class="def">
          <dt>On time</dt>
          <dd>${ratio(trend?.onTimeRatio ?? null)}</dd>
          <dt>Median lateness</dt>
          <dd>${latenessInWords(trend?.medianLatenessSeconds ?? null, durationInWords)}</dd>
          <dt>Bias</dt>
          <dd>${trend && trend.bias !== 'none' ? `routinely ${trend.bias} (${ratio(trend.sameSideShare)} of days)` : 'none'}</dd>
          <dt>Suggested end</dt>
          <dd>${trend?.suggestedExpectedEnd ?? '—'}</dd>
        </dl>
      </section>
    </div>
    <section aria-labelledby="chart-h">
      <h2 id="chart-h">Lateness per business date</h2>
      <div class="card">
        ${barChart(points, `Lateness of ${slo.id} per business date, with its trend`, (v) => latenessInWords(v, durationInWords))}
        <p class="small muted">Above the line: late; below (green): early. Dashed line: least-squares trend.</p>
      </div>
    </section>
    <section aria-labelledby="perf-h">
      <h2 id="perf-h">Performance</h2>
      <div class="scroll">
        <table id="performance">
          <thead>
            <tr>
              <th scope="col">Business date</th>
              <th scope="col">Slot</th>
              <th scope="col">Status</th>
              <th scope="col">Expected end</th>
              <th scope="col">Actual start</th>
              <th scope="col">Actual end</th>
              <th scope="col">Lateness</th>
              <th scope="col">Predicted end</th>
            </tr>
          </thead>
          <tbody>
            ${newestFirst.map(
              (r) =>
                html`<tr>
                  <td>${r.businessDate}</td>
                  <td>${r.slot ?? '—'}</td>
                  <td>${rowStatus(r)}</td>
                  <td>${instant(r.expectedEnd)}</td>
                  <td>${instant(r.actualStart)}</td>
                  <td>${instant(r.actualEnd)}</td>
                  <td>${latenessInWords(r.latenessSeconds, durationInWords)}</td>
                  <td>${instant(r.predictedEnd)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>
    <h2>Its jobs' trends</h2>
    ${jobTrendsTable(jobs)} ${durations.map(jobDurationChart)}`;
}

/** One job's run duration per business date with its least-squares trend. */
function jobDurationChart(series: JobDurationSeries) {
  const name = `${series.application}/${series.job}`;
  const points = series.points.map((p) => ({ label: p.businessDate, value: p.durationSeconds }));
  return html`<section class="card job-duration" aria-label="Run duration of ${name}">
    <h3>Run duration of ${name}</h3>
    ${
      points.length
        ? barChart(points, `Run duration of ${name} per business date, with its trend`, durationInWords)
        : html`<p class="muted">No successful run in the window yet.</p>`
    }
  </section>`;
}
