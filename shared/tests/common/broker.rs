//! A RabbitMQ broker for one test: its queue and exchange names carry a
//! prefix of the test's own, and are deleted when the test ends
//! (`goflix_testkit::rabbitmq::TestBroker`).

#[allow(unused_imports)] // not every test binary uses it
pub use goflix_testkit::rabbitmq::TestBroker;
