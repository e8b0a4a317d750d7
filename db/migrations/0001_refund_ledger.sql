ALTER TABLE "refunds" ADD COLUMN "event_sequence" integer;--> statement-breakpoint
ALTER TABLE "refunds" ADD COLUMN "refunded_total_minor" integer;--> statement-breakpoint
ALTER TABLE "refunds" ADD COLUMN "failure_reason" text;--> statement-breakpoint
ALTER TABLE "refunds" ADD COLUMN "settled_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "refunds_order_idx" ON "refunds" USING btree ("order_id");