DROP TABLE result_events;
DROP TABLE test_result_chunks;
DROP TABLE test_results;
