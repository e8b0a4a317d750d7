CREATE SCHEMA "notification_sender";
--> statement-breakpoint
CREATE SCHEMA "order_history";
--> statement-breakpoint
CREATE TABLE "notification_sender"."notifications" (
	"event_id" text PRIMARY KEY NOT NULL,
	"event_type" text NOT NULL,
	"order_id" uuid NOT NULL,
	"recipient" text NOT NULL,
	"kind" text NOT NULL,
	"subject" text,
	"message_id" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"smtp_response" text,
	"claimed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_attempt_at" timestamp with time zone,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "order_history"."orders" (
	"order_id" uuid PRIMARY KEY NOT NULL,
	"checkout_id" uuid NOT NULL,
	"customer_email" text NOT NULL,
	"customer_name" text,
	"user_id" uuid,
	"status" text NOT NULL,
	"amount_minor" integer,
	"currency" text,
	"lines" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"refunded_minor" integer DEFAULT 0 NOT NULL,
	"refunds" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status_history" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"failure" jsonb,
	"payment_intent_id" text,
	"last_sequence" integer NOT NULL,
	"last_event_id" text NOT NULL,
	"placed_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"projected_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "order_history"."processed_events" (
	"event_id" text PRIMARY KEY NOT NULL,
	"event_type" text NOT NULL,
	"order_id" uuid NOT NULL,
	"sequence" integer NOT NULL,
	"outcome" text NOT NULL,
	"kafka_partition" integer,
	"kafka_offset" text,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "notifications_order_idx" ON "notification_sender"."notifications" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "notifications_status_idx" ON "notification_sender"."notifications" USING btree ("status");--> statement-breakpoint
CREATE INDEX "orders_customer_email_idx" ON "order_history"."orders" USING btree (lower("customer_email"),"placed_at");--> statement-breakpoint
CREATE INDEX "orders_user_idx" ON "order_history"."orders" USING btree ("user_id");