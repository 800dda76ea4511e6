/**
 * Secrets never reach logs, errors or emails. Connection URLs lose their
 * password; values of registered secrets (API keys, SMTP passwords) are masked
 * wherever they appear in a string.
 */
const secrets = new Set<string>();

/** Register a secret value so that `redact` masks it everywhere. Short values are ignored. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Mask the password of every URL with credentials (`scheme://user:pass@host`). */
export function maskUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):([^@\s]+)@/gi, '$1:***@');
}

/** Mask URL passwords, registered secrets and `apikey=`-style query values in a string. */
export function redact(text: string): string {
  let out = maskUrl(text);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  return out.replace(/((?:api[_-]?key|apikey|token|password|secret)=)[^&\s"']+/gi, '$1***');
}
