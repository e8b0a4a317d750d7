CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer NOT NULL,
	"expire" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "notification_sender"."failure_notice_throttle" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer NOT NULL,
	"expire" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "checkouts" ADD COLUMN "secret_hash" text;--> statement-breakpoint
ALTER TABLE "checkouts" ADD COLUMN "client_hash" text;--> statement-breakpoint
ALTER TABLE "sso_tokens" ADD COLUMN "delivery" text DEFAULT 'redirect' NOT NULL;--> statement-breakpoint
CREATE INDEX "checkouts_client_idx" ON "checkouts" USING btree ("client_hash","created_at");