//! Booking: free-slot search, booking, cancelling, and reading appointments.

pub mod appointment_pages;
pub mod appointments;
pub mod book;
pub mod cache;
pub mod catalog;
pub mod feed;
pub mod holds;
pub mod locks;
pub mod online;
pub mod online_record;
pub mod patients;
pub mod search;

pub use appointments::{AppointmentFilter, AppointmentView, CancelOutcome};
pub use book::{BookingContext, BookingOutcome};
pub use cache::BookingCache;
pub use search::FoundSlot;
