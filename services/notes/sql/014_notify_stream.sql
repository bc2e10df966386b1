-- The timeline follows the notify service's stream too (messages sent to a
-- customer, and what became of them), from its first event.
INSERT INTO notes.stream_cursor (stream, last_seq) VALUES ('notify', 0)
    ON CONFLICT (stream) DO NOTHING;
