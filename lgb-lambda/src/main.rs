//! `bootstrap`: the lgb worker for AWS Lambda (`provided.al2023`).
//!
//! Everything real happens in [`lgb_core::worker::lambda::LambdaHandler`]: this file only
//! sizes the async runtime to the CPU share of the function's memory
//! ([`LambdaPlatform::runtime_threads`]), starts JSON logging, builds the worker once
//! (so adapters and their connections survive warm invocations), pinned to the
//! deployment infra/ sets in `LGB_DEPLOYMENT`, and hands each event to the handler.

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use lgb_core::prelude::Worker;
use lgb_core::worker::lambda::{LambdaHandler, LambdaPlatform};
use serde_json::Value;

fn main() -> Result<(), Error> {
    let started = Instant::now();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // Tokio's own variable, when set, wins over the memory's CPU share.
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        runtime.worker_threads(LambdaPlatform::from_env().runtime_threads(cpus));
    }
    runtime.enable_all().build()?.block_on(serve(started))
}

/// Serves invocations until the runtime API goes away.
async fn serve(started: Instant) -> Result<(), Error> {
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
            // Handled on a runtime worker, not on the thread that polls the runtime
            // API: with one worker (`runtime_threads`), everything an invocation
            // allocates then comes from one malloc arena, where two each kept the
            // memory they had freed.
            tokio::spawn(async move { handler.handle(event.payload, deadline).await })
                .await
                .map_err(|join| Error::from(format!("the invocation's task failed: {join}")))
        }
    }))
    .await
}
