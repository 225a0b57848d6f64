/** Per-request values the middleware sets for the routes. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The project the request acts for (from its token; `default` when running open). */
    project: string;
  };
}
