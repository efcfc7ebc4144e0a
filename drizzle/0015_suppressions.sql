CREATE TABLE "suppressions" (
	"request_id" uuid NOT NULL,
	"request_type" text NOT NULL,
	"purpose" text NOT NULL,
	"person_key" text NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"end_reason" text,
	CONSTRAINT "suppressions_request_id_purpose_person_key_pk" PRIMARY KEY("request_id","purpose","person_key")
);
--> statement-breakpoint
CREATE INDEX "suppressions_in_force" ON "suppressions" USING btree ("person_key","purpose") WHERE "suppressions"."ended_at" is null;