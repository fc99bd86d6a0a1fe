//! The bound sessions of a server, by system_id, and [`SessionHandle`] to send through one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use smppgate_protocol::pdu::{Body, DataSm, DeliverSm};
use smppgate_protocol::session::CloseReason;

use super::handler::SessionInfo;
use crate::conn::{Link, RequestError, Response};

/// A bound session on the server: send it deliver_sm / data_sm through **its** window.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    info: Arc<SessionInfo>,
    link: Link,
}

impl SessionHandle {
    pub(crate) fn new(info: Arc<SessionInfo>, link: Link) -> Self {
        Self { info, link }
    }

    /// Who is bound.
    #[must_use]
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The shared info (cheap to keep).
    #[must_use]
    pub fn info_arc(&self) -> Arc<SessionInfo> {
        Arc::clone(&self.info)
    }

    /// The connection handle.
    #[must_use]
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Sends a deliver_sm, waiting for window space, and returns the deliver_sm_resp.
    ///
    /// # Errors
    /// [`RequestError`], e.g. `Refused` on a transmitter bind, `Aborted` when the
    /// connection drops.
    pub async fn deliver(&self, deliver_sm: DeliverSm) -> Result<Response, RequestError> {
        self.link.request(Body::DeliverSm(deliver_sm)).await
    }

    /// Sends a data_sm.
    ///
    /// # Errors
    /// As [`SessionHandle::deliver`].
    pub async fn data_sm(&self, data_sm: DataSm) -> Result<Response, RequestError> {
        self.link.request(Body::DataSm(data_sm)).await
    }

    /// Unbinds gracefully and waits for the close.
    pub async fn unbind(&self) -> CloseReason {
        self.link.unbind().await
    }
}

/// Bound sessions by system_id.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: Mutex<HashMap<Bytes, Vec<SessionHandle>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, Vec<SessionHandle>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, handle: SessionHandle) {
        self.lock()
            .entry(handle.info.system_id.clone())
            .or_default()
            .push(handle);
    }

    pub(crate) fn remove(&self, info: &SessionInfo) {
        let mut sessions = self.lock();
        if let Some(list) = sessions.get_mut(&info.system_id) {
            list.retain(|h| h.info.connection_id != info.connection_id);
            if list.is_empty() {
                sessions.remove(&info.system_id);
            }
        }
    }

    /// The bound sessions of `system_id`.
    #[must_use]
    pub fn sessions(&self, system_id: &[u8]) -> Vec<SessionHandle> {
        self.lock().get(system_id).cloned().unwrap_or_default()
    }

    /// A session of `system_id` that can receive deliver_sm: `connection_id` itself when it
    /// can, else the first other one.
    #[must_use]
    pub fn receiver(&self, system_id: &[u8], connection_id: Option<u64>) -> Option<SessionHandle> {
        let sessions = self.lock();
        let list = sessions.get(system_id)?;
        let open = |h: &&SessionHandle| h.info.can_receive() && !h.link.is_closed();
        connection_id
            .and_then(|id| {
                list.iter()
                    .filter(open)
                    .find(|h| h.info.connection_id == id)
            })
            .or_else(|| list.iter().find(open))
            .cloned()
    }

    /// Every bound session.
    #[must_use]
    pub fn all(&self) -> Vec<SessionHandle> {
        self.lock().values().flatten().cloned().collect()
    }

    /// How many sessions are bound.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether no session is bound.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
