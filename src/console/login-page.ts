import { html } from 'hono/html';

/** The login form: the only thing shown before a token is entered. */
export function loginContent(error: string | null) {
  return html`<h1>Log in</h1>
    <div class="card">
      <p>This compter needs a token. The console shows the debts and SLOs of the token's project.</p>
      ${error ? html`<p class="pill bad" role="alert" id="login-error">${error}</p>` : ''}
      <form method="post" action="/console/login">
        <p>
          <label for="token">Token</label><br />
          <input id="token" name="token" type="password" autocomplete="current-password" required maxlength="256" size="48" />
        </p>
        <p><button type="submit" class="primary">Log in</button></p>
      </form>
      <p class="small muted">The token is kept in an HttpOnly, SameSite=Strict cookie for this session; “Log out” removes it.</p>
    </div>`;
}
