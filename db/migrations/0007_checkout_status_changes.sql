CREATE TABLE "checkout_status_changes" (
	"checkout_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"status" text NOT NULL,
	"doc" jsonb NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checkout_status_changes_checkout_id_version_pk" PRIMARY KEY("checkout_id","version")
);
