//! Log setup: one JSON object per line, which CloudWatch Logs indexes field by field.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber; the level comes from `RUST_LOG` (default `info`).
/// Calling it twice is harmless.
pub fn init_json() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line itself
        .try_init();
}
