-- Brings sample systems created by an earlier version up to seed.sql's shape, keeping their rows
-- (a person erased there stays erased). Run on every start; each statement is a no-op once applied.
ALTER TABLE sample_crm.contacts
  ADD COLUMN IF NOT EXISTS processing_restricted boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS processing_restricted_at timestamptz,
  ADD COLUMN IF NOT EXISTS marketing_consent boolean NOT NULL DEFAULT true,
  ADD COLUMN IF NOT EXISTS marketing_consent_withdrawn_at timestamptz,
  ADD COLUMN IF NOT EXISTS account_id text;
ALTER TABLE sample_newsletter.members
  ADD COLUMN IF NOT EXISTS unsubscribed_at timestamptz,
  ADD COLUMN IF NOT EXISTS share_with_partners boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS track_engagement boolean NOT NULL DEFAULT true,
  ADD COLUMN IF NOT EXISTS service_emails boolean NOT NULL DEFAULT true;
