//! (filled in by its class's fix)
