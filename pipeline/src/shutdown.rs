//! Waiting for the operator to stop a long-running command (`conveyor schedule`,
//! `conveyor serve`): SIGINT (Ctrl-C) or SIGTERM (systemd, Kubernetes).

/// Resolves on the first SIGINT or SIGTERM (SIGINT only where there is no SIGTERM).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
