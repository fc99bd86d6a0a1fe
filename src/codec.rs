//! tokio-util framing over the protocol codec (to be written).
