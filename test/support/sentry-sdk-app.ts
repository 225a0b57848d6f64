// A small application as a Sentry Crons user writes it: @sentry/node initialised from SENTRY_DSN,
// check-ins by hand and through withMonitor, and an ordinary error report beside them. Prints
// one JSON line with what it observed, so the test can compare it with what compter recorded.
// Run as its own process (see runSentrySdkApp in sentry-sdk-process.ts), never imported by a test.
import * as Sentry from '@sentry/node';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sent: string[] = [];

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  environment: 'production',
  release: 'billing@1.4.2',
  tracesSampleRate: 0,
});
Sentry.getClient()!.on('beforeEnvelope', (envelope) => sent.push(envelope[1].map((item) => item[0].type).join(',')));

// captureCheckIn with a monitor config, then ok by checkInId with the duration the app measured.
const checkInId = Sentry.captureCheckIn(
  { monitorSlug: 'sdk-nightly-billing', status: 'in_progress' },
  {
    schedule: { type: 'crontab', value: '0 2 * * *' },
    checkinMargin: 15,
    maxRuntime: 120,
    timezone: 'Europe/Copenhagen',
    failureIssueThreshold: 2,
    recoveryThreshold: 3,
  },
);
await sleep(300);
Sentry.captureCheckIn({ checkInId, monitorSlug: 'sdk-nightly-billing', status: 'ok', duration: 12.25 });
await sleep(100);

// withMonitor around a job that resolves and one that throws.
const interval = { schedule: { type: 'interval', value: 1, unit: 'hour' }, checkinMargin: 5, maxRuntime: 30 } as const;
await Sentry.withMonitor('sdk-hourly-resolves', () => sleep(250), interval);
await sleep(100);
let thrown: string | null = null;
try {
  await Sentry.withMonitor(
    'sdk-every5-throws',
    async () => {
      await sleep(50);
      throw new Error('job failed');
    },
    { schedule: { type: 'crontab', value: '*/5 * * * *' } },
  );
} catch (err) {
  thrown = (err as Error).message;
}

// An ordinary error report from the same app: accepted and dropped.
const eventId = Sentry.captureException(new Error('an unrelated bug'));
const flushed = await Sentry.flush(10_000);
console.log(JSON.stringify({ checkInId, thrown, eventId, flushed, sent }));
