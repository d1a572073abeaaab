DROP TABLE ws_nonces;
DROP TABLE api_clients;
