-- Cancelling a gift voucher before it is redeemed: who, when and why. A
-- cancelled voucher is never redeemed (RedeemVoucher answers as for a wrong
-- code); a redeemed one is never cancelled.
ALTER TABLE customers.vouchers ADD COLUMN IF NOT EXISTS cancelled_at timestamptz;
ALTER TABLE customers.vouchers ADD COLUMN IF NOT EXISTS cancelled_by text;
ALTER TABLE customers.vouchers ADD COLUMN IF NOT EXISTS cancel_reason text;
ALTER TABLE customers.vouchers ADD CONSTRAINT vouchers_redeemed_or_cancelled
    CHECK (redeemed_at IS NULL OR cancelled_at IS NULL);
