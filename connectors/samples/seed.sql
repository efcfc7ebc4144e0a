-- Sample systems for the zero-setup run: five small databases (as schemas) holding the same
-- handful of fictional people, so an access or erasure request shows every kind of system.
BEGIN;

CREATE SCHEMA sample_crm;
-- processing_restricted: the CRM's mark for restriction of processing (GDPR Art 18), set and cleared by
-- restriction and objection requests; the CRM's campaigns and exports skip marked contacts.
-- marketing_consent: whether sales may send the contact offers; cleared by an opt-out of marketing.
CREATE TABLE sample_crm.contacts (
  id integer PRIMARY KEY, email text NOT NULL, phone text, first_name text, last_name text, created_at timestamptz NOT NULL,
  processing_restricted boolean NOT NULL DEFAULT false, processing_restricted_at timestamptz,
  marketing_consent boolean NOT NULL DEFAULT true, marketing_consent_withdrawn_at timestamptz,
  account_id text
);
CREATE TABLE sample_crm.deals (
  id integer PRIMARY KEY, contact_id integer REFERENCES sample_crm.contacts(id), name text NOT NULL,
  amount numeric(12,2) NOT NULL, closed_on date
);
CREATE TABLE sample_crm.notes (
  id integer PRIMARY KEY, contact_id integer NOT NULL REFERENCES sample_crm.contacts(id), body text NOT NULL, created_at timestamptz NOT NULL
);
INSERT INTO sample_crm.contacts VALUES
  (1, 'ada@example.com', '+447700900001', 'Ada', 'Lovelace', '2024-03-01T10:00:00Z'),
  (2, 'grace@example.com', '+12025550102', 'Grace', 'Hopper', '2024-04-11T09:30:00Z'),
  (3, 'alan@example.com', '+447700900003', 'Alan', 'Turing', '2024-05-20T14:45:00Z');
-- End users of customer accounts (accounts.json): the company runs the CRM's workspaces of Northwind
-- and Contoso for them (managed: the company is their processor). Maya uses both customers' workspaces.
INSERT INTO sample_crm.contacts (id, email, phone, first_name, last_name, created_at, account_id) VALUES
  (4, 'maya@example.net', NULL, 'Maya', 'Okafor', '2024-09-02T08:15:00Z', 'northwind'),
  (5, 'maya@example.net', NULL, 'Maya', 'Okafor', '2024-10-14T13:40:00Z', 'contoso');
INSERT INTO sample_crm.deals VALUES
  (10, 1, 'Analytical Engine support plan', 1200.00, '2024-06-30'),
  (11, 2, 'Compiler training', 800.00, '2024-07-15'),
  (12, 1, 'Punched card supplies', 150.50, NULL),
  (13, 4, 'Northwind fleet renewal', 4200.00, '2024-09-30'),
  (14, 5, 'Contoso pilot', 900.00, NULL);
INSERT INTO sample_crm.notes VALUES
  (20, 1, 'Prefers e-mail; interested in the annual plan.', '2024-03-02T08:00:00Z'),
  (21, 3, 'Asked about the enterprise tier.', '2024-05-21T11:00:00Z'),
  (22, 4, 'Northwind: renewal signed by Maya.', '2024-09-30T15:00:00Z'),
  (23, 5, 'Contoso: pilot on hold until Q1.', '2024-10-15T09:00:00Z');

CREATE SCHEMA sample_support;
CREATE TABLE sample_support.users (id integer PRIMARY KEY, email text NOT NULL, name text NOT NULL);
CREATE TABLE sample_support.tickets (
  id integer PRIMARY KEY, requester_id integer NOT NULL REFERENCES sample_support.users(id), subject text NOT NULL,
  status text NOT NULL, created_at timestamptz NOT NULL
);
CREATE TABLE sample_support.comments (
  id integer PRIMARY KEY, ticket_id integer NOT NULL REFERENCES sample_support.tickets(id),
  author_id integer NOT NULL REFERENCES sample_support.users(id), body text NOT NULL, created_at timestamptz NOT NULL
);
INSERT INTO sample_support.users VALUES
  (1, 'ada@example.com', 'Ada Lovelace'), (2, 'grace@example.com', 'Grace Hopper'), (3, 'agent@company.example', 'Support Agent');
INSERT INTO sample_support.tickets VALUES
  (100, 1, 'Cannot download my invoice', 'solved', '2024-08-01T09:00:00Z'),
  (101, 2, 'Change of billing address', 'open', '2024-08-03T16:20:00Z');
INSERT INTO sample_support.comments VALUES
  (1000, 100, 1, 'The invoice link shows an error.', '2024-08-01T09:00:00Z'),
  (1001, 100, 3, 'Fixed: please try again.', '2024-08-01T10:15:00Z'),
  (1002, 101, 2, 'New address attached.', '2024-08-03T16:20:00Z');

CREATE SCHEMA sample_newsletter;
-- What each member agreed to, set by opt-outs per purpose: status (marketing: subscribed/unsubscribed),
-- share_with_partners (partner sharing), track_engagement (profiling: opens and clicks). service_emails
-- (account and billing messages) is transactional mail: no opt-out touches it.
CREATE TABLE sample_newsletter.members (
  id integer PRIMARY KEY, email text NOT NULL, status text NOT NULL, subscribed_at timestamptz NOT NULL,
  unsubscribed_at timestamptz, share_with_partners boolean NOT NULL DEFAULT false, track_engagement boolean NOT NULL DEFAULT true,
  service_emails boolean NOT NULL DEFAULT true
);
CREATE TABLE sample_newsletter.member_tags (
  member_id integer NOT NULL REFERENCES sample_newsletter.members(id), tag text NOT NULL, PRIMARY KEY (member_id, tag)
);
CREATE TABLE sample_newsletter.activity (
  id integer PRIMARY KEY, member_id integer NOT NULL REFERENCES sample_newsletter.members(id), action text NOT NULL, at timestamptz NOT NULL
);
INSERT INTO sample_newsletter.members (id, email, status, subscribed_at, share_with_partners) VALUES
  (1, 'ada@example.com', 'subscribed', '2024-01-15T12:00:00Z', true), (2, 'grace@example.com', 'subscribed', '2024-02-01T12:00:00Z', true);
INSERT INTO sample_newsletter.member_tags VALUES (1, 'product-news'), (1, 'events'), (2, 'product-news');
INSERT INTO sample_newsletter.activity VALUES
  (1, 1, 'opened: March digest', '2024-03-05T07:12:00Z'), (2, 1, 'clicked: webinar invitation', '2024-03-05T07:13:00Z'),
  (3, 2, 'opened: March digest', '2024-03-06T18:40:00Z');

CREATE SCHEMA sample_webinar;
CREATE TABLE sample_webinar.registrants (
  id integer PRIMARY KEY, webinar text NOT NULL, email text NOT NULL, first_name text, last_name text, registered_at timestamptz NOT NULL
);
CREATE TABLE sample_webinar.attendance (
  id integer PRIMARY KEY, registrant_id integer NOT NULL REFERENCES sample_webinar.registrants(id), joined_at timestamptz NOT NULL, minutes integer NOT NULL
);
INSERT INTO sample_webinar.registrants VALUES
  (1, 'Privacy by design, part 1', 'ada@example.com', 'Ada', 'Lovelace', '2024-03-06T08:00:00Z'),
  (2, 'Privacy by design, part 1', 'alan@example.com', 'Alan', 'Turing', '2024-03-07T10:00:00Z');
INSERT INTO sample_webinar.attendance VALUES (1, 1, '2024-03-20T15:00:00Z', 52), (2, 2, '2024-03-20T15:02:00Z', 47);

CREATE SCHEMA sample_test_results;
CREATE TABLE sample_test_results.respondents (id integer PRIMARY KEY, email text NOT NULL, name text);
CREATE TABLE sample_test_results.results (
  id integer PRIMARY KEY, respondent_id integer NOT NULL REFERENCES sample_test_results.respondents(id),
  quiz text NOT NULL, score integer NOT NULL, completed_at timestamptz NOT NULL
);
CREATE TABLE sample_test_results.result_recipients (
  id integer PRIMARY KEY, result_id integer NOT NULL REFERENCES sample_test_results.results(id), email text NOT NULL, sent_at timestamptz NOT NULL
);
INSERT INTO sample_test_results.respondents VALUES (1, 'ada@example.com', 'Ada Lovelace'), (2, 'alan@example.com', 'Alan Turing');
INSERT INTO sample_test_results.results VALUES
  (1, 1, 'Negotiation dialogue simulation', 87, '2024-04-02T13:00:00Z'),
  (2, 2, 'Data protection basics quiz', 92, '2024-04-03T09:30:00Z');
INSERT INTO sample_test_results.result_recipients VALUES
  (1, 1, 'ada@example.com', '2024-04-02T13:01:00Z'), (2, 1, 'coach@company.example', '2024-04-02T13:01:00Z'),
  (3, 2, 'alan@example.com', '2024-04-03T09:31:00Z');

COMMIT;
