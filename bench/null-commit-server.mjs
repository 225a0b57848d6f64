// Diagnostic only: compter with its commit skipped (the event store's append resolves at once,
// nothing is stored). The ping bench runs it to separate what the HTTP stack and the engine
// cost from what the commit costs; it is never a durable figure.
// Usage: node bench/null-commit-server.mjs   (env as for `compter serve`; build first)
import { createServer } from 'node:http';
import { loadEnv } from '../dist/src/config.js';
import { createCompter, requestListener } from '../dist/src/main.js';

const env = loadEnv(process.env);
const compter = await createCompter(env);
compter.store.append = async () => {};
const server = createServer(requestListener(compter));
server.listen(env.COMPTER_PORT, env.COMPTER_HOST);
process.on('SIGTERM', () => server.close(() => compter.close().then(() => process.exit(0))));
