DROP TABLE result_address_guards;
