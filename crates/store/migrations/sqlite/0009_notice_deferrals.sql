-- Temporary SMTP failures (4xx, connection trouble) no longer end a notice: the outbox puts it
-- back in the queue with a later due time, up to a bounded number of retries. This counts them.
ALTER TABLE notices ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;
