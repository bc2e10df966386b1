-- An idempotency key stands for one request: its body's hash is kept with the
-- reply, and the same key with another body is refused.
ALTER TABLE customers.idempotency ADD COLUMN request_hash text NOT NULL DEFAULT '';
