/** The token form: shown when the server answers 401. The token stays in this tab (sessionStorage). */
import { useState, type FormEvent } from 'react';

export function Login({ onToken, wrong }: { onToken: (t: string) => void; wrong: boolean }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onToken(value.trim());
  };
  return (
    <section className="login">
      <h1>Sign in</h1>
      <p>
        This server needs its access token. It is in the data folder's <code>token</code> file (
        <code>DATA/token</code>), printed at the first start.
      </p>
      {wrong && (
        <p className="error" role="alert">
          The server refused that token.
        </p>
      )}
      <form onSubmit={submit}>
        <label htmlFor="token">Access token</label>
        <input
          id="token"
          type="password"
          autoComplete="current-password"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          required
        />
        <button type="submit">Sign in</button>
      </form>
      <p className="muted">The token is kept in this tab only and sent as a header, never in a URL.</p>
    </section>
  );
}
