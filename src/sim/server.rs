//! Serving the simulator: the API listener with its restarts (drop every watch, refuse
//! connections for a while, listen again on the same address), the fake backend's listener,
//! and shutdown with a deadline.
//!
//! Owns the listeners and the tasks they run. It must not change objects itself: the
//! scenario player ([`super::player`]) and the API's write handlers do.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::player::play;
use super::{DRAIN_DEADLINE, SimError, SimHandle, api, backend, time_header};

/// Serves the API (and the backend, when given a listener) and plays the scenario until
/// `shutdown` resolves. The scenario's clock started at [`SimHandle::new`].
pub async fn serve(
    sim: SimHandle,
    api: TcpListener,
    backend: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SimError> {
    let addr = api.local_addr().map_err(SimError::LocalAddr)?;
    let _ = sim.inner.api_addr.set(addr);
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();

    if let Some(listener) = backend {
        let backend_addr = listener.local_addr().map_err(SimError::LocalAddr)?;
        let _ = sim.inner.backend_addr.set(backend_addr);
        // Weak: the backend lives inside the simulator it reads.
        let weak = Arc::downgrade(&sim.inner);
        sim.inner
            .backend
            .follow(Arc::new(move |namespace: &str, service: &str| {
                let Some(inner) = weak.upgrade() else {
                    return Vec::new();
                };
                SimHandle { inner }.traffic_split(namespace, service)
            }));
        let router = time_header::stamp(backend::router(sim.inner.backend.clone()), sim.clock());
        let stop = cancel.clone().cancelled_owned();
        tasks.spawn(async move {
            if let Err(err) = axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!("fake backend stopped: {err}");
            }
        });
    }
    tasks.spawn(play(sim.clone(), cancel.clone()));

    let restart_rx = sim
        .inner
        .restart_rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    // A second `serve` on the same handle gets no restart channel; restarts then go to the first.
    let mut restart_rx = restart_rx.unwrap_or_else(|| mpsc::unbounded_channel().1);
    let router = api::router(sim.clone());
    let mut listener = Some(api);
    let mut shutdown = std::pin::pin!(shutdown);
    let result = loop {
        let Some(current) = listener.take() else {
            break Ok(());
        };
        let incarnation = cancel.child_token();
        *sim.inner
            .incarnation
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = incarnation.clone();
        let server = tokio::spawn(
            axum::serve(current, router.clone())
                .with_graceful_shutdown(incarnation.clone().cancelled_owned())
                .into_future(),
        );
        let down = tokio::select! {
            () = &mut shutdown => None,
            down = restart_rx.recv() => down,
        };
        incarnation.cancel();
        drain(server).await;
        let Some(down) = down else {
            break Ok(());
        };
        tracing::info!("API restart: refusing connections for {down:?}");
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            () = tokio::time::sleep(down) => {}
        }
        match rebind(addr).await {
            Ok(l) => listener = Some(l),
            Err(source) => break Err(SimError::Rebind { addr, source }),
        }
    };
    cancel.cancel();
    tasks.close();
    sim.inner.tasks.close();
    let _ = tokio::time::timeout(DRAIN_DEADLINE, async {
        tasks.wait().await;
        sim.inner.tasks.wait().await;
    })
    .await;
    result
}

async fn drain(server: tokio::task::JoinHandle<std::io::Result<()>>) {
    let abort = server.abort_handle();
    if tokio::time::timeout(DRAIN_DEADLINE, server).await.is_err() {
        abort.abort();
    }
}

async fn rebind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("rebind failed")))
}
