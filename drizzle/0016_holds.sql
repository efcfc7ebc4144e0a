CREATE TABLE "hold_review_warnings" (
	"hold_id" uuid NOT NULL,
	"review_at" timestamp with time zone NOT NULL,
	"notified_at" timestamp with time zone DEFAULT now() NOT NULL,
	"recorded_at" timestamp with time zone,
	"delivery_status" integer,
	CONSTRAINT "hold_review_warnings_hold_id_review_at_pk" PRIMARY KEY("hold_id","review_at")
);
--> statement-breakpoint
CREATE TABLE "legal_holds" (
	"id" uuid PRIMARY KEY NOT NULL,
	"person_keys" text[] NOT NULL,
	"ground" text NOT NULL,
	"reference" text NOT NULL,
	"note" text,
	"review_at" timestamp with time zone NOT NULL,
	"covers" jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"released_at" timestamp with time zone,
	"released_by" text,
	"release_reason" text,
	CONSTRAINT "legal_holds_released" CHECK (("legal_holds"."released_at" is null) = ("legal_holds"."release_reason" is null))
);
--> statement-breakpoint
ALTER TABLE "hold_review_warnings" ADD CONSTRAINT "hold_review_warnings_hold_id_legal_holds_id_fk" FOREIGN KEY ("hold_id") REFERENCES "public"."legal_holds"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "legal_holds_person_keys" ON "legal_holds" USING gin ("person_keys");--> statement-breakpoint
CREATE INDEX "legal_holds_review" ON "legal_holds" USING btree ("review_at") WHERE "legal_holds"."released_at" is null;