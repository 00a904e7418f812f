//! Queries: Query pages over a partition, PartiQL statements and paginated Scans, up
//! to a limit of items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};

use super::item::{self, item_size, Item};
use super::{sum_capacity, DynamoDbDatabase, KeyAttribute};
use crate::database::QueryOutcome;
use crate::error::{Error, Result};
use crate::record::QueryKind;

impl DynamoDbDatabase {
    /// Runs a Query with `condition` over `values`, page by page, up to `limit` items.
    pub(super) async fn run_query(
        &self,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        forward: bool,
        limit: usize,
    ) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        let mut start: Option<Item> = None;
        let mut names =
            HashMap::from([("#pk".to_string(), self.options.partition_key.name.clone())]);
        if let Some(s) = &self.options.sort_key {
            if condition.contains("#sk") {
                names.insert("#sk".to_string(), s.name.clone());
            }
        }
        let values: HashMap<String, AttributeValue> = values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        while out.records.len() < limit {
            let page = self.page_limit(limit - out.records.len());
            let req = self
                .client
                .query()
                .table_name(&self.target.table)
                .key_condition_expression(condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(forward)
                .consistent_read(self.options.consistent_read)
                .set_limit(page)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            let resp = self
                .send("Query", &mut out.meta, || req.clone().send())
                .await?;
            sum_capacity(resp.consumed_capacity(), &mut out.meta, false);
            let mut resp = resp;
            self.take_items(resp.items.take(), limit, &mut out);
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    pub(super) fn page_limit(&self, remaining: usize) -> Option<i32> {
        let remaining = i32::try_from(remaining).unwrap_or(i32::MAX);
        Some(match self.options.page_size {
            Some(p) => remaining.min(i32::try_from(p.get()).unwrap_or(i32::MAX)),
            None => remaining,
        })
    }

    pub(super) fn take_items(
        &self,
        items: Option<Vec<Item>>,
        limit: usize,
        out: &mut QueryOutcome,
    ) {
        for it in items.unwrap_or_default() {
            if out.records.len() >= limit {
                break;
            }
            out.meta.bytes += item_size(&it) as u64;
            out.meta.items += 1;
            out.records.push(self.schema.record(it));
        }
    }

    pub(super) async fn partiql(&self, statement: &str) -> Result<QueryOutcome> {
        let limit = self.options.max_query_items;
        let writes = !statement
            .trim_start()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("select"));
        let mut out = QueryOutcome::default();
        let mut token: Option<String> = None;
        loop {
            let req = self
                .client
                .execute_statement()
                .statement(statement)
                .consistent_read(self.options.consistent_read)
                .set_limit(if writes {
                    None
                } else {
                    self.page_limit(limit - out.records.len())
                })
                .set_next_token(token.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            let resp = self
                .send("ExecuteStatement", &mut out.meta, || req.clone().send())
                .await?;
            sum_capacity(resp.consumed_capacity(), &mut out.meta, writes);
            let mut resp = resp;
            self.take_items(resp.items.take(), limit, &mut out);
            match resp.next_token {
                Some(t) if out.records.len() < limit => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    /// A range from `start` on a table without a sort key, as YCSB's DynamoDB binding
    /// scans: a paginated Scan that begins after the item of `start`
    /// (`ExclusiveStartKey`) and returns up to `limit` items in the table's own
    /// (hash) order, not key order.
    pub(super) async fn scan_from(&self, start: &str, limit: usize) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        let mut from: Option<HashMap<String, AttributeValue>> = Some(HashMap::from([(
            self.options.partition_key.name.clone(),
            self.partition_value(start, start)?,
        )]));
        while out.records.len() < limit {
            let page = self.page_limit(limit - out.records.len());
            let req = self
                .client
                .scan()
                .table_name(&self.target.table)
                .consistent_read(self.options.consistent_read)
                .set_limit(page)
                .set_exclusive_start_key(from.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            let resp = self
                .send("Scan", &mut out.meta, || req.clone().send())
                .await?;
            sum_capacity(resp.consumed_capacity(), &mut out.meta, false);
            let mut resp = resp;
            self.take_items(resp.items.take(), limit, &mut out);
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => from = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    pub(super) fn require_sort(&self, kind: QueryKind) -> Result<&KeyAttribute> {
        self.options.sort_key.as_ref().ok_or_else(|| {
            Error::Unsupported(format!(
                "`{}` queries need a sort key, and table `{}` is configured without one (set `sort_key`)",
                kind.as_str(),
                self.target.table
            ))
        })
    }

    pub(super) fn partition_value(&self, text: &str, whole: &str) -> Result<AttributeValue> {
        item::key_value(&self.options.partition_key, text, whole)
    }
}
