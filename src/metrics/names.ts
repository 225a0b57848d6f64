/**
 * Every metric name compter exports (docs/metrics.md). The names are contract: alerts/, dashboards/
 * and black-box tests use exactly these, and a test checks that they use no others.
 */
export const METRIC = {
  // per debt: labels project, debt
  debtDeadline: 'compter_debt_deadline_timestamp_seconds',
  debtLastSuccess: 'compter_debt_last_success_timestamp_seconds',
  debtOverdue: 'compter_debt_overdue',
  debtStatus: 'compter_debt_status',
  debtLastDuration: 'compter_debt_last_duration_seconds',
  paymentsTotal: 'compter_payments_total',
  debtExtraRunsTotal: 'compter_debt_extra_runs_total',
  occurrencesTotal: 'compter_occurrences_total',
  debtBlocked: 'compter_debt_blocked',
  // per SLO: labels project, slo, application
  sloDeadline: 'compter_slo_deadline_timestamp_seconds',
  sloLateness: 'compter_slo_lateness_seconds',
  sloStatus: 'compter_slo_status',
  sloPredictedEnd: 'compter_slo_predicted_end_timestamp_seconds',
  sloDeliveriesTotal: 'compter_slo_deliveries_total',
  // per job: labels project, application, job
  jobRunsTotal: 'compter_job_runs_total',
  jobLastDuration: 'compter_job_last_duration_seconds',
  jobDurationTrend: 'compter_job_duration_trend_seconds_per_day',
  jobProjectedBreach: 'compter_job_projected_breach_timestamp_seconds',
  // compter itself
  eventsAppendedTotal: 'compter_events_appended_total',
  eventStoreFlushSeconds: 'compter_event_store_flush_seconds',
  eventStoreErrorsTotal: 'compter_event_store_errors_total',
  spoolEvents: 'compter_spool_events',
  spoolOldestAge: 'compter_spool_oldest_event_age_seconds',
  httpRequestsTotal: 'compter_http_requests_total',
  httpRequestDuration: 'compter_http_request_duration_seconds',
  buildInfo: 'compter_build_info',
  rateLimitedTotal: 'compter_rate_limited_total',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
