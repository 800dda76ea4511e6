/**
 * Run parameters from `-p key=value` (runtime/engine/params.ts): JSON when it parses and
 * the param's schema takes it, the text as it is otherwise.
 */
import { z } from 'zod';
import { dag } from '../runtime/index.ts';
import { parseConf } from '../runtime/engine/params.ts';
import { InputError } from '../runtime/errors.ts';

const d = dag({
  id: 'typed',
  params: z.object({
    name: z.string().default('x'),
    times: z.number().default(1),
    flag: z.boolean().default(false),
    ids: z.array(z.number()).default([]),
    either: z.union([z.string(), z.number()]).default(0),
  }),
});
d.task({ id: 't' }, () => 1);

test('regression: -p name=42 for a string param is the string "42" (it was the number 42, refused)', () => {
  expect(parseConf(d, { pairs: ['name=42'] }).name).toBe('42');
  expect(parseConf(d, { pairs: ['name=true'] }).name).toBe('true');
  expect(parseConf(d, { pairs: ['name=null'] }).name).toBe('null');
  expect(parseConf(d, { pairs: ['name="quoted"'] }).name).toBe('quoted');
});

test('-p values that are JSON of the param\'s type stay JSON', () => {
  expect(parseConf(d, { pairs: ['times=3', 'flag=true', 'ids=[1,2]', 'either=7'] })).toMatchObject({ times: 3, flag: true, ids: [1, 2], either: 7 });
  expect(parseConf(d, { pairs: ['either=abc'] }).either).toBe('abc');
});

test('a -p value the schema takes neither way is still refused, naming the field', () => {
  const error = (() => { try { parseConf(d, { pairs: ['times=three'] }); } catch (e) { return e; } })();
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).toMatch(/^param "times": .*number/);
});
