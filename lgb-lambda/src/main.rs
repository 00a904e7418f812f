//! `bootstrap`: the lgb worker for AWS Lambda (`provided.al2023`).
//!
//! Everything real happens in [`lgb_core::worker::lambda::LambdaHandler`]: this file only
//! starts JSON logging, builds the worker once (so adapters and their connections
//! survive warm invocations), pinned to the deployment infra/ sets in `LGB_DEPLOYMENT`,
//! and hands each event to the handler.

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use lgb_core::prelude::Worker;
use lgb_core::worker::lambda::LambdaHandler;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    // AWS_LAMBDA_LOG_LEVEL is Lambda's own log-level setting; RUST_LOG wins if set.
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter.to_lowercase()))
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .init();
    let handler = Arc::new(LambdaHandler::new(
        Arc::new(Worker::default().pinned_from_env()),
        started,
    ));
    run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let deadline = (event.context.deadline > 0)
                .then(|| UNIX_EPOCH + Duration::from_millis(event.context.deadline));
            Ok::<Value, Error>(handler.handle(event.payload, deadline).await)
        }
    }))
    .await
}
