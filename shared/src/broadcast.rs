//! In-process fan-out: a tokio broadcast receiver as a stream, shared by
//! the embedded event bus and command channel. A receiver that falls
//! behind skips what it missed (logged) rather than slowing the sender.

use futures_util::Stream;
use std::pin::Pin;
use tokio::sync::broadcast;

/// Everything `receiver` gets from now on, until every sender is gone;
/// `what` names the listener in the log line about missed items.
pub fn stream<T: Clone + Send + 'static>(
    receiver: broadcast::Receiver<T>,
    what: &'static str,
) -> Pin<Box<dyn Stream<Item = T> + Send>> {
    Box::pin(futures_util::stream::unfold(
        receiver,
        move |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(item) => return Some((item, receiver)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "{what} fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    ))
}
