//! The simulated carriers a configuration asks for with `address = "sim"`: one
//! in-process [`Sim`] per such carrier, on 127.0.0.1 with a port of its own, and the
//! carrier's address rewritten to it. The carrier pool then connects to it like to any
//! SMSC: it never learns that the carrier is simulated.

use std::time::Duration;

use super::{Sim, SimConfig};
use crate::config::Config;
use crate::smsc::ServerError;

/// What a carrier's `address` says to get a built-in simulated carrier.
pub const BUILTIN_ADDRESS: &str = "sim";

/// The simulators started by [`start_builtin`]; dropping them stops them at once,
/// [`BuiltinSims::shutdown`] unbinds their sessions first.
#[derive(Debug, Default)]
#[must_use = "the simulated carriers stop when this is dropped"]
pub struct BuiltinSims {
    sims: Vec<(String, Sim)>,
}

impl BuiltinSims {
    /// How many were started.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sims.len()
    }

    /// Whether none was (no carrier says `address = "sim"`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sims.is_empty()
    }

    /// Stops each, waiting up to `grace` for each one's sessions to unbind.
    pub async fn shutdown(self, grace: Duration) {
        for (carrier, sim) in self.sims {
            let counters = sim.shutdown(grace).await;
            tracing::debug!(%carrier, %counters, "built-in simulated carrier stopped");
        }
    }
}

/// A built-in simulated carrier that could not start.
#[derive(Debug, thiserror::Error)]
#[error("carrier {carrier}: cannot start the built-in simulated carrier: {cause}")]
pub struct BuiltinSimError {
    /// The carrier.
    pub carrier: String,
    /// Why.
    #[source]
    pub cause: ServerError,
}

/// Starts a simulator on 127.0.0.1:0 for each carrier of `config` whose address is
/// `"sim"`, and writes the address it listens on into that carrier's `address`.
///
/// # Errors
/// [`BuiltinSimError`] when one cannot listen (those already started are stopped).
pub async fn start_builtin(config: &mut Config) -> Result<BuiltinSims, BuiltinSimError> {
    let mut started = BuiltinSims::default();
    for carrier in &mut config.carriers {
        if carrier.address != BUILTIN_ADDRESS {
            continue;
        }
        let sim = Sim::start(SimConfig {
            listen: "127.0.0.1:0".to_owned(),
            ..SimConfig::default()
        })
        .await
        .map_err(|cause| BuiltinSimError {
            carrier: carrier.name.clone(),
            cause,
        })?;
        carrier.address = sim.local_addr().to_string();
        tracing::debug!(carrier = %carrier.name, address = %carrier.address, "built-in simulated carrier");
        started.sims.push((carrier.name.clone(), sim));
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_sim_carriers_get_a_simulator_and_their_address() {
        let mut config = Config::demo();
        let mut real = config.carriers[0].clone();
        real.name = "real".to_owned();
        real.address = "127.0.0.1:2775".to_owned();
        config.carriers.push(real);
        let sims = start_builtin(&mut config).await.expect("start");
        assert_eq!(sims.len(), 1);
        let address: std::net::SocketAddr = config.carriers[0].address.parse().expect("addr");
        assert!(address.ip().is_loopback());
        assert_ne!(address.port(), 0);
        assert_eq!(config.carriers[1].address, "127.0.0.1:2775");
        // It listens there.
        tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        sims.shutdown(Duration::from_secs(1)).await;
    }
}
