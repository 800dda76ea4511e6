// dags/hello.ts
import { dag, z, SkipTask, NonRetryableError } from 'weir';

const d = dag({
  id: 'hello',                       // ^[a-z][a-z0-9_]*$
  description: 'Greets people',
  owner: 'data-eng',
  tags: ['example'],
  params: z.object({                 // validated before a run is created
    name: z.string().min(1).default('world'),
    times: z.number().int().min(1).max(5).default(1),
  }),
  defaultTaskOptions: { retries: 2, retryDelayMs: 1_000, retryExponentialBackoff: true },
  alertRecipients: ['data-team@example.com'],   // gets an email when a task fails for good
});

const greet = d.task({ id: 'greet', timeoutMs: 30_000 }, async (ctx) => {
  ctx.log.info('greeting', { name: ctx.params.name });   // stored with this try
  return { text: `hello ${ctx.params.name}` };            // stored as JSONB
});

const shout = d.task({ id: 'shout', upstream: [greet] }, async (ctx) => {
  const { text } = ctx.output(greet);      // typed: { text: string }
  if (ctx.params.times > 3) throw new NonRetryableError('too loud');  // fails now, no retries
  return text.toUpperCase().repeat(ctx.params.times);
});

d.task({ id: 'maybe', upstream: [shout], triggerRule: 'all_done' }, async () => {
  throw new SkipTask('nothing to do today');   // this task ends `skipped`
});

export default d;
