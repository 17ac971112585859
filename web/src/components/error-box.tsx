/** An error from the API as a person reads it: the message, the code, and each problem with where it is. */
import { ApiError } from '../api/client.js';

export function ErrorBox({ error, title }: { error: Error; title?: string }) {
  const api = error instanceof ApiError ? error : undefined;
  return (
    <div className="error" role="alert">
      <strong>{title ?? 'Something went wrong'}:</strong> {error.message}
      {api && <span className="code"> ({api.code})</span>}
      {api && api.problems.length > 0 && (
        <ul>
          {api.problems.map((p, i) => (
            <li key={i}>
              {p.line !== undefined && `line ${p.line}, column ${p.column ?? '?'}: `}
              {p.pointer !== undefined && p.line === undefined && `${p.pointer || '/'}: `}
              {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
