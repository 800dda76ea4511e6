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

/** Names of settings whose whole value is a secret (TWELVE_DATA_API_KEY, QBO_CLIENT_SECRET, QBO_REFRESH_TOKEN, …). */
const SECRET_NAME = /(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIALS?)$/i;

/**
 * Register every secret-bearing setting of an environment, once, at start-up of each
 * process and each isolate thread (so a secret is masked before any code that uses it
 * has run): the passwords of all URLs (WEIR_DATABASE_URL, WEIR_SMTP_URL, every
 * WEIR_CONN_*), and the values of variables named like keys, tokens, secrets and
 * passwords.
 */
export function registerEnvSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    // An incoming webhook's URL is its credential (WEIR_WEBHOOK_<NAME>).
    if (SECRET_NAME.test(name) || name.startsWith('WEIR_WEBHOOK_')) registerSecret(value);
    if (value.includes('://') && value.includes('@')) {
      try {
        const url = new URL(value);
        registerSecret(url.password);
        registerSecret(decodeURIComponent(url.password));
      } catch {
        // not a URL
      }
    }
  }
}

/** Mask the password of every URL with credentials (`scheme://user:pass@host`). */
export function maskUrl(text: string): string {
  // A scheme is at most 32 characters: unbounded, a long run of letters (a 2 MB output of
  // 'x') made the engine try every start against every end, which never finished.
  if (!text.includes('://')) return text;
  return text.replace(/([a-z][a-z0-9+.-]{0,31}:\/\/[^:/@\s]*):([^@\s]+)@/gi, '$1:***@');
}

/** Mask URL passwords, registered secrets and `apikey=`-style query values in a string. */
export function redact(text: string): string {
  let out = maskUrl(text);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  return out.replace(/((?:api[_-]?key|apikey|token|password|secret)=)[^&\s"']+/gi, '$1***');
}
