-- Messages sent later (docs/notify.md, "Sending later"). A scheduled message
-- is a row of notify.messages with status SCHEDULED and send_at, and a queue
-- row due at send_at that is held: the senders never claim a held row. When it
-- is due, a copy's tick claims it (a lease, as the senders do) and asks notify
-- itself to release it (ReleaseMessage): the customer is read again, and the
-- message either goes to the senders (held = false, status QUEUED) or ends
-- FAILED/CANCELLED saying why. CancelMessage deletes a held row; releasing
-- updates it: both lock the row, so exactly one of them wins.
ALTER TABLE notify.messages ADD COLUMN send_at timestamptz;
ALTER TABLE notify.messages DROP CONSTRAINT messages_status_check;
ALTER TABLE notify.messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('QUEUED', 'SENT', 'FAILED', 'REPLIED', 'SCHEDULED', 'CANCELLED'));
ALTER TABLE notify.queue ADD COLUMN held boolean NOT NULL DEFAULT false;
CREATE INDEX queue_held_by_due ON notify.queue (due_at) WHERE held;
