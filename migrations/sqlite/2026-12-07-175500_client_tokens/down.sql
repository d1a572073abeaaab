DROP TABLE client_tokens;
