-- dead_letters: messages whose data is not JSON, kept once by id. $1 message_id[],
-- $2 publish_time[], $3 data[], $4 reason[], $5 run_id
INSERT INTO events.dead_letters (message_id, publish_time, data, reason, run_id)
SELECT m.id, m.t, m.d, m.r, $5 FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]) AS m(id, t, d, r)
ON CONFLICT (message_id) DO NOTHING
