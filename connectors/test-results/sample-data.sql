-- Fictional sample data for the test-result store (after the migrations). Ada and Alan took tests;
-- Ada also received a result of Alan's as his coach, so she is found as a recipient too.
INSERT INTO test_results.respondents (id, email, full_name, created_at) VALUES
  (1, 'ada@example.com', 'Ada Lovelace', '2024-03-01T10:00:00Z'),
  (2, 'alan@example.com', 'Alan Turing', '2024-04-02T09:00:00Z'),
  (3, 'grace@example.com', 'Grace Hopper', '2024-04-05T08:30:00Z');
INSERT INTO test_results.results (id, respondent_id, kind, test_name, score, max_score, passed, answers, started_at, completed_at) VALUES
  (10, 1, 'quiz', 'Data protection basics', 18, 20, true, '{"q1":"b","q2":"a"}', '2024-04-01T10:00:00Z', '2024-04-01T10:12:00Z'),
  (11, 1, 'dialogue_simulation', 'Handling an access request on the phone', 72.5, 100, true, '{"turns":14}', '2024-04-08T14:00:00Z', '2024-04-08T14:25:00Z'),
  (12, 2, 'quiz', 'Data protection basics', 11, 20, false, '{"q1":"c","q2":"a"}', '2024-04-03T09:30:00Z', '2024-04-03T09:41:00Z'),
  (13, 3, 'quiz', 'Phishing awareness', 20, 20, true, '{}', '2024-04-06T11:00:00Z', '2024-04-06T11:05:00Z');
INSERT INTO test_results.result_recipients (id, result_id, email, sent_at) VALUES
  (100, 10, 'ada@example.com', '2024-04-01T10:13:00Z'),
  (101, 11, 'ada@example.com', '2024-04-08T14:26:00Z'),
  (102, 11, 'coach@company.example', '2024-04-08T14:26:00Z'),
  (103, 12, 'alan@example.com', '2024-04-03T09:42:00Z'),
  (104, 12, 'Ada@Example.com', '2024-04-03T09:42:00Z'),
  (105, 13, 'grace@example.com', '2024-04-06T11:06:00Z');
SELECT setval(pg_get_serial_sequence('test_results.respondents', 'id'), 100);
SELECT setval(pg_get_serial_sequence('test_results.results', 'id'), 100);
SELECT setval(pg_get_serial_sequence('test_results.result_recipients', 'id'), 1000);
