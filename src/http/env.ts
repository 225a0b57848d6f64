import type { Scope } from '../domain/tokens.js';

/** Who a request acts as: a configured token, or everyone when compter runs open. */
export interface Principal {
  /** The token's name from compter.yaml; `open` when no tokens are configured. */
  name: string;
  project: string;
  scopes: readonly Scope[];
  /** Applications it may report job status for; null means any. */
  applications: ReadonlySet<string> | null;
}

/** Per-request values the middleware sets for the routes. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The project the request acts for (from its token; `default` when running open). */
    project: string;
    /** The token the request authenticated with; null on open paths (probes, ping URLs). */
    principal: Principal | null;
    /**
     * Counts one request against `project`'s rate limits, throwing `rate_limited` when over.
     * Ping routes call it once they have resolved the project from the ping id or key.
     */
    rateLimit: (project: string) => void;
  };
}
