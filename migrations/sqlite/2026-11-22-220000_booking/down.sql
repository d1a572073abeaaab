DROP TABLE booking_requests;
DROP TABLE appointment_changes;
DROP TABLE appointments;
DROP TABLE patients;
