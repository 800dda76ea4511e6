-- load_messages: one pulled batch into events.messages, each message once by its id (a
-- redelivered message changes nothing). $1 message_id[], $2 publish_time[], $3 payload[]
-- (JSON text), $4 run_id. Returns the ids that were new.
INSERT INTO events.messages (message_id, publish_time, payload, run_id)
SELECT m.id, m.t, m.p::jsonb, $4 FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS m(id, t, p)
ON CONFLICT (message_id) DO NOTHING
RETURNING message_id
