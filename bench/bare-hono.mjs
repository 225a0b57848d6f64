// The baseline: the cheapest Hono handler on @hono/node-server, answering what a ping answers.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.all('*', (c) => c.text('OK'));
const port = Number(process.argv[2] ?? 0);
serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, (info) => console.log(`listening ${info.port}`));
