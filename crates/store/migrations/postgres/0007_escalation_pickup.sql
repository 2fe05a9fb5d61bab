-- Regulator pick-up of escalations ([monitor] part 3): escalated takedown cases and overdue
-- hits become a case for a regulator officer, who takes it (picked_up_at/by, set once) and may
-- open an order from it (order_id). Same timestamp convention as 0001.
ALTER TABLE case_escalations ADD COLUMN picked_up_by TEXT;
ALTER TABLE case_escalations ADD COLUMN order_id BIGINT REFERENCES orders(id);
ALTER TABLE escalations ADD COLUMN picked_up_by TEXT;
ALTER TABLE escalations ADD COLUMN order_id BIGINT REFERENCES orders(id);
-- The officer's queue per tenant, and an order's escalations for its evidence package.
CREATE INDEX escalations_tenant ON escalations (tenant_id, id);
CREATE INDEX escalations_order ON escalations (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX case_escalations_order ON case_escalations (order_id) WHERE order_id IS NOT NULL;
