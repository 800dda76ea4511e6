-- message_by_id: one stored message. $1 message_id
SELECT message_id, publish_time, payload, loaded_at FROM events.messages WHERE message_id = $1
