//! Batches: BatchWriteItem chunks whose unprocessed items are retried until the
//! deadline, and BatchGetItem with its unprocessed keys.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnConsumedCapacity, WriteRequest};

use super::item::{item_size, Item};
use super::{sum_capacity, DynamoDbDatabase, MAX_BATCH_GET};
use crate::database::{BatchOutcome, ItemFailure};
use crate::error::{Error, ErrorClass, Result};
use crate::record::OpMeta;
use crate::record::Record;

/// The instant `d` from now: a batch's deadline. `Instant + Duration` panics past the
/// clock's range; options built in code may hold any duration (the parser stops at
/// 366 days), and such a deadline is as good as never: the furthest instant the clock
/// can represent from now, within a year, stands in for it.
pub(super) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(crate::units::HumanDuration::MAX))
        .unwrap_or(now)
}

/// Whether waiting `wait` from now would reach `deadline` (an instant past the clock's
/// range does).
fn waits_past(wait: Duration, deadline: Instant) -> bool {
    Instant::now()
        .checked_add(wait)
        .is_none_or(|t| t >= deadline)
}

impl DynamoDbDatabase {
    /// Writes one chunk (unique keys, at most 25 items) and retries its UnprocessedItems
    /// until `deadline`; leftovers become `throttled` item failures, never dropped.
    pub(super) async fn write_chunk(
        &self,
        chunk: Vec<(usize, WriteRequest, usize)>,
        deadline: Instant,
        out: &mut BatchOutcome,
    ) -> Result<()> {
        let table = &self.target.table;
        let mut todo = chunk;
        let mut round = 0u32;
        loop {
            let requests: Vec<WriteRequest> = todo.iter().map(|(_, w, _)| w.clone()).collect();
            let sent = self
                .send("BatchWriteItem", &mut out.meta, || {
                    self.client
                        .batch_write_item()
                        .request_items(table, requests.clone())
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                })
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e)
                    if matches!(
                        e.class(),
                        ErrorClass::Throttled
                            | ErrorClass::Rejected
                            | ErrorClass::Timeout
                            | ErrorClass::Backend
                    ) =>
                {
                    let message = e.to_string();
                    out.failed
                        .extend(todo.iter().map(|(index, _, _)| ItemFailure {
                            index: *index,
                            class: e.class(),
                            message: message.clone(),
                        }));
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            for c in resp.consumed_capacity() {
                sum_capacity(Some(c), &mut out.meta, true);
            }
            let unprocessed = resp
                .unprocessed_items
                .and_then(|mut m| m.remove(table))
                .unwrap_or_default();
            // Keep the unprocessed ones (matched by key), count the rest as written.
            let left_ids: Vec<String> = unprocessed
                .iter()
                .filter_map(|w| {
                    w.put_request()
                        .and_then(|p| self.schema.identity_of_item(p.item()))
                })
                .collect();
            let (left, done): (Vec<_>, Vec<_>) = todo.into_iter().partition(|(_, w, _)| {
                w.put_request()
                    .and_then(|p| self.schema.identity_of_item(p.item()))
                    .is_some_and(|id| left_ids.contains(&id))
            });
            out.meta.items += done.len() as u64;
            out.meta.bytes += done.iter().map(|(_, _, size)| *size as u64).sum::<u64>();
            if left.is_empty() {
                return Ok(());
            }
            round += 1;
            let wait = self.backoff.delay(round);
            if waits_past(wait, deadline) {
                let message = format!(
                    "not written: still in UnprocessedItems after {round} attempts and the batch deadline of {:?}",
                    self.options.batch_deadline.0
                );
                out.failed
                    .extend(left.iter().map(|(index, _, _)| ItemFailure {
                        index: *index,
                        class: ErrorClass::Throttled,
                        message: message.clone(),
                    }));
                return Ok(());
            }
            tokio::time::sleep(wait).await;
            out.meta.retries += 1;
            todo = left;
        }
    }

    /// Reads keys with BatchGetItem, 100 per request, retrying UnprocessedKeys until the
    /// batch deadline. Returns the found records by key identity.
    pub(super) async fn batch_get(
        &self,
        keys: &[Item],
        meta: &mut OpMeta,
    ) -> Result<HashMap<String, Record>> {
        let table = &self.target.table;
        let deadline = deadline_after(self.options.batch_deadline.0);
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_BATCH_GET) {
            let mut todo: Vec<Item> = chunk.to_vec();
            let mut round = 0u32;
            while !todo.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(todo))
                    .consistent_read(self.options.consistent_read)
                    .build()
                    .map_err(|e| Error::Backend(format!("cannot build BatchGetItem: {e}")))?;
                let resp = self
                    .send("BatchGetItem", meta, || {
                        self.client
                            .batch_get_item()
                            .request_items(table, request.clone())
                            .return_consumed_capacity(ReturnConsumedCapacity::Total)
                            .send()
                    })
                    .await?;
                for c in resp.consumed_capacity() {
                    sum_capacity(Some(c), meta, false);
                }
                let mut resp = resp;
                for it in resp
                    .responses
                    .take()
                    .and_then(|mut m| m.remove(table))
                    .unwrap_or_default()
                {
                    meta.bytes += item_size(&it) as u64;
                    meta.items += 1;
                    if let Some(id) = self.schema.identity_of_item(&it) {
                        found.insert(id, self.schema.record(it));
                    }
                }
                todo = resp
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if todo.is_empty() {
                    break;
                }
                round += 1;
                let wait = self.backoff.delay(round);
                if waits_past(wait, deadline) {
                    return Err(Error::Throttled(format!(
                        "{} keys still in UnprocessedKeys after {round} attempts and the batch deadline of {:?}",
                        todo.len(),
                        self.options.batch_deadline.0
                    )));
                }
                tokio::time::sleep(wait).await;
                meta.retries += 1;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_past_the_clock_do_not_panic() {
        let before = Instant::now();
        let soon = deadline_after(Duration::from_secs(5));
        assert!(soon >= before + Duration::from_secs(5));
        // `Instant::now() + Duration::MAX` panics; this is a year or so away instead.
        let never = deadline_after(Duration::MAX);
        assert!(
            never >= before + Duration::from_secs(300 * 86_400),
            "{never:?}"
        );
        assert!(!waits_past(Duration::from_secs(1), never));
        assert!(waits_past(Duration::MAX, never));
        assert!(waits_past(Duration::from_secs(10), soon));
    }
}
