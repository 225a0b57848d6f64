import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { METRIC } from '../../src/metrics/names.js';
import {
  RULE,
  consoleLink,
  consoleUrlVariable,
  finish,
  isoTime,
  labelVariable,
  legend,
  mergeTable,
  newDashboard,
  prom,
  prometheusDatasourceVariable,
  promDs,
  sel,
  tooltipAll,
  statPanels,
} from './common.js';

/** Debts: what is overdue now, what falls due next, how often jobs pay, how occurrences end. */

const f = ['project=~"$project"', 'debt=~"$debt"'];
// One series per debt even when several compter instances (or a restarted pod) export it.
const perDebt = 'max by (project, debt)';

/** Debts overdue now; paused and blocked debts never count (as in CompterDebtOverdue). */
const overdueNow =
  `${perDebt} (${sel(METRIC.debtOverdue, ...f)}) == 1` +
  ` unless on (project, debt) ${perDebt} (${sel(METRIC.debtStatus, ...f, 'status="paused"')}) == 1` +
  ` unless on (project, debt) ${perDebt} (${sel(METRIC.debtBlocked, ...f)}) == 1`;
const deadlineOfOverdue = `${perDebt} (${sel(METRIC.debtDeadline, ...f)}) and on (project, debt) (${overdueNow})`;
const nextDeadlines = `bottomk(50, ${perDebt} (${sel(METRIC.debtDeadline, ...f)}) - time() > 0)`;

function countStatus(status: string): string {
  return `count(${perDebt} (${sel(METRIC.debtStatus, ...f, `status=~"${status}"`)}) == 1)`;
}

const statPanel = statPanels({ span: 4, noValue: '0' });

/** The overview dashboard (uid compter-overview). */
export function overviewDashboard(): dashboard.Dashboard {
  const b = newDashboard(
    'compter-overview',
    'compter / Overview',
    'Debts tracked by compter: status, overdue and upcoming deadlines, payment rates, occurrence outcomes.',
  )
    .withVariable(prometheusDatasourceVariable())
    .withVariable(labelVariable('project', 'Project', `label_values(${METRIC.debtStatus}, project)`))
    .withVariable(labelVariable('debt', 'Debt', `label_values(${METRIC.debtStatus}{project=~"$project"}, debt)`))
    .withVariable(consoleUrlVariable());

  b.withRow(new dashboard.RowBuilder('Now'));
  b.withPanel(statPanel('Debts', 'Debts defined (not deleted).', `count(${perDebt} (${sel(METRIC.debtStatus, ...f)}))`, [[null, 'blue']]));
  b.withPanel(
    statPanel(
      'Overdue',
      'Debts past their deadline (scheduled time + grace) and unpaid; CompterDebtOverdue pages for each. Paused debts are left out.',
      `count(${overdueNow})`,
      [
        [null, 'green'],
        [1, 'red'],
      ],
    ),
  );
  b.withPanel(
    statPanel('Late (in grace)', 'Past their scheduled time but still inside their grace.', countStatus('late'), [
      [null, 'green'],
      [1, 'yellow'],
    ]),
  );
  b.withPanel(
    statPanel(
      'Failed or timed out',
      'Debts whose last runs failed (failuresBeforeAlert in a row) or ran past maxRuntime.',
      countStatus('failed|timed_out'),
      [
        [null, 'green'],
        [1, 'orange'],
      ],
    ),
  );
  b.withPanel(statPanel('Paused', 'Paused debts never fall due.', countStatus('paused'), [[null, 'blue']]));
  b.withPanel(
    statPanel(
      'Blocked',
      'Debts waiting for an upstream (after) that is overdue, failed or timed out; only the upstream pages.',
      `count(${perDebt} (${sel(METRIC.debtBlocked, ...f)}) == 1)`,
      [
        [null, 'green'],
        [1, 'yellow'],
      ],
    ),
  );
  b.withPanel(
    statPanel(
      'In maintenance',
      'Debts a maintenance window covers now: nothing falls due, what would is excused.',
      countStatus('maintenance'),
      [[null, 'blue']],
    ),
  );
  b.withPanel(
    statPanel(
      'Payments / min',
      'Payments of every kind (start, stage, success, fail, log) received per minute.',
      `sum(${perDebt} (rate(${sel(METRIC.paymentsTotal, ...f)}[$__rate_interval]))) * 60`,
      [[null, 'blue']],
    ),
  );

  b.withRow(new dashboard.RowBuilder('Deadlines'));
  b.withPanel(
    new table.PanelBuilder()
      .title('Overdue debts')
      .description(
        'Every debt with compter_debt_overdue == 1, longest overdue first, with its deadline and last success. ' +
          'GET /v1/debts/{debt}/events on compter shows what the job reported.',
      )
      .datasource(promDs)
      .withTarget(prom(`(${deadlineOfOverdue}) * 1000`, { refId: 'A', instant: true, table: true }))
      .withTarget(prom(`time() - (${deadlineOfOverdue})`, { refId: 'B', instant: true, table: true }))
      .withTarget(
        prom(`(${perDebt} (${sel(METRIC.debtLastSuccess, ...f)}) and on (project, debt) (${overdueNow})) * 1000`, {
          refId: 'C',
          instant: true,
          table: true,
        }),
      )
      .transformations(mergeTable({ 'Value #A': 'Deadline', 'Value #B': 'Overdue for', 'Value #C': 'Last success' }))
      .overrideByName('Deadline', [isoTime()])
      .overrideByName('Last success', [isoTime()])
      .overrideByName('Overdue for', [{ id: 'unit', value: 's' }])
      .overrideByName('debt', [consoleLink('debts')])
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('Overdue for').desc(true)])
      .noValue('Nothing is overdue')
      .span(12)
      .height(10),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title('Upcoming deadlines')
      .description('The 50 nearest deadlines that have not passed yet (scheduled time + grace).')
      .datasource(promDs)
      .withTarget(prom(nextDeadlines, { refId: 'A', instant: true, table: true }))
      .withTarget(
        prom(`(${perDebt} (${sel(METRIC.debtDeadline, ...f)}) and on (project, debt) (${nextDeadlines})) * 1000`, {
          refId: 'B',
          instant: true,
          table: true,
        }),
      )
      .transformations(mergeTable({ 'Value #A': 'Due in', 'Value #B': 'Deadline' }))
      .overrideByName('Due in', [{ id: 'unit', value: 's' }])
      .overrideByName('debt', [consoleLink('debts')])
      .overrideByName('Deadline', [isoTime()])
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('Due in').desc(false)])
      .span(12)
      .height(10),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Debts by status')
      .description(`From the recording rule ${RULE.debtsByStatus}; follows the project filter only.`)
      .datasource(promDs)
      .withTarget(prom(`sum by (status) (${sel(RULE.debtsByStatus, 'project=~"$project"')})`, { legend: '{{status}}' }))
      .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
      .fillOpacity(40)
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .unit('none')
      .decimals(0)
      .span(24)
      .height(8),
  );

  b.withRow(new dashboard.RowBuilder('Payments'));
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Payment rate by kind')
      .description('Payments received per second: start, stage, success (the payoff), fail, log.')
      .datasource(promDs)
      .withTarget(
        prom(`sum by (kind) (max by (project, debt, kind) (rate(${sel(METRIC.paymentsTotal, ...f)}[$__rate_interval])))`, {
          legend: '{{kind}}',
        }),
      )
      .unit('ops')
      .legend(legend())
      .tooltip(tooltipAll())
      .span(12)
      .height(8),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Busiest debts')
      .description('The ten debts receiving the most payments per second.')
      .datasource(promDs)
      .withTarget(
        prom(
          `topk(10, sum by (project, debt) (max by (project, debt, kind) (rate(${sel(METRIC.paymentsTotal, ...f)}[$__rate_interval]))))`,
          {
            legend: '{{project}}/{{debt}}',
          },
        ),
      )
      .unit('ops')
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(12)
      .height(8),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Last run duration (longest ten)')
      .description('compter_debt_last_duration_seconds: how long the last completed run took, start to payoff.')
      .datasource(promDs)
      .withTarget(prom(`topk(10, ${perDebt} (${sel(METRIC.debtLastDuration, ...f)}))`, { legend: '{{project}}/{{debt}}' }))
      .unit('s')
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(12)
      .height(8),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title('Jobs running too often')
      .description('Extra successes within one occurrence in the time range (compter_debt_extra_runs_total).')
      .datasource(promDs)
      .withTarget(
        prom(`${perDebt} (increase(${sel(METRIC.debtExtraRunsTotal, ...f)}[$__range])) > 0`, {
          instant: true,
          table: true,
        }),
      )
      .transformations(mergeTable({ Value: 'Extra runs' }))
      .overrideByName('Extra runs', [{ id: 'decimals', value: 0 }])
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('Extra runs').desc(true)])
      .span(12)
      .height(8),
  );

  b.withRow(new dashboard.RowBuilder('Occurrences'));
  b.withPanel(
    new timeseries.PanelBuilder()
      .title('Occurrences closed per hour, by outcome')
      .description(`From the recording rule ${RULE.occurrencesIncrease1h}; follows the project filter only.`)
      .datasource(promDs)
      .withTarget(prom(`sum by (outcome) (${sel(RULE.occurrencesIncrease1h, 'project=~"$project"')})`, { legend: '{{outcome}}' }))
      .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
      .fillOpacity(40)
      .unit('none')
      .legend(legend('right'))
      .tooltip(tooltipAll())
      .span(12)
      .height(8),
  );
  b.withPanel(
    new table.PanelBuilder()
      .title('Missed, failed or late occurrences')
      .description('Occurrences in the time range that did not end as paid on time, per debt and outcome.')
      .datasource(promDs)
      .withTarget(
        prom(`max by (project, debt, outcome) (increase(${sel(METRIC.occurrencesTotal, ...f, 'outcome!="paid"')}[$__range])) > 0`, {
          instant: true,
          table: true,
        }),
      )
      .transformations(mergeTable({ Value: 'Occurrences' }))
      .overrideByName('Occurrences', [{ id: 'decimals', value: 0 }])
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('Occurrences').desc(true)])
      .span(12)
      .height(8),
  );
  return finish(b);
}
