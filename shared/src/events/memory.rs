//! The in-process bus of `goflix serve`: a broadcast channel.

use super::{BusError, Event, EventBus, EventSink, EventStream};
use async_trait::async_trait;
use tokio::sync::broadcast;

/// Events kept for a subscriber that falls behind before it loses some.
const MEMORY_BUS_CAPACITY: usize = 8192;

/// The in-process bus of `goflix serve`.
#[derive(Clone)]
pub struct MemoryBus {
    sender: broadcast::Sender<Event>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(MEMORY_BUS_CAPACITY).0,
        }
    }
}

#[async_trait]
impl EventSink for MemoryBus {
    async fn publish(&self, event: Event) -> Result<(), BusError> {
        // No subscriber is not an error: nobody is listening yet.
        let _ = self.sender.send(event);
        Ok(())
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn subscribe(&self) -> Result<EventStream, BusError> {
        Ok(crate::broadcast::stream(
            self.sender.subscribe(),
            "event subscriber",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::VideoId;
    use crate::events::EventKind;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn memory_bus_delivers_to_every_subscriber() {
        let bus = MemoryBus::default();
        let mut a = bus.subscribe().await.unwrap();
        let mut b = bus.subscribe().await.unwrap();
        let event = Event::now(VideoId::new(), EventKind::Queued);
        bus.publish(event.clone()).await.unwrap();
        assert_eq!(a.next().await.unwrap(), event);
        assert_eq!(b.next().await.unwrap(), event);
    }
}
