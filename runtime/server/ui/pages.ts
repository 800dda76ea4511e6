/** The web UI (filled in below). */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ServerEnv } from '../security.ts';
import type { AppDeps } from '../app.ts';

export function registerUi(_app: OpenAPIHono<ServerEnv>, _deps: AppDeps): void {}
