//! Table setup: checking an existing table's key schema, or creating the table
//! (`create_table_if_missing`) and waiting until it is ACTIVE.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType as SdkKeyType,
    ProvisionedThroughput, ScalarAttributeType, TableStatus,
};

use super::{Billing, DynamoDbDatabase, KeyAttribute, KeyType};
use crate::error::{Error, Result};
use crate::record::OpMeta;

/// How long `create_table_if_missing` waits for the table to become ACTIVE.
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(120);

impl DynamoDbDatabase {
    pub(super) async fn ensure_table(&self) -> Result<()> {
        let mut meta = OpMeta::default();
        let t = &self.target.table;
        let described = self
            .send("DescribeTable", &mut meta, || {
                self.client.describe_table().table_name(t).send()
            })
            .await;
        match described {
            Ok(out) => {
                if let Some(table) = out.table() {
                    self.check_key_schema(table)?;
                }
            }
            Err(Error::Config(p)) if p.iter().any(|p| p.path == "database.table") => {
                self.create_table().await?;
            }
            Err(e) => return Err(e),
        }
        self.wait_active().await
    }

    pub(super) fn check_key_schema(
        &self,
        table: &aws_sdk_dynamodb::types::TableDescription,
    ) -> Result<()> {
        let defs: HashMap<&str, &ScalarAttributeType> = table
            .attribute_definitions()
            .iter()
            .map(|d| (d.attribute_name(), d.attribute_type()))
            .collect();
        let describe = |kt: SdkKeyType| {
            table
                .key_schema()
                .iter()
                .find(|k| *k.key_type() == kt)
                .map(|k| {
                    (
                        k.attribute_name().to_string(),
                        defs.get(k.attribute_name()).map(|t| t.as_str().to_string()),
                    )
                })
        };
        let want = |a: &KeyAttribute| (a.name.clone(), Some(scalar(a.kind).as_str().to_string()));
        let mut problems = Vec::new();
        let (hash, range) = (describe(SdkKeyType::Hash), describe(SdkKeyType::Range));
        if hash != Some(want(&self.options.partition_key)) {
            problems.push(crate::error::ConfigProblem::new(
                "database.partition_key",
                format!(
                    "table `{}` has partition key {hash:?}, the config says {:?}",
                    self.target.table,
                    want(&self.options.partition_key)
                ),
            ));
        }
        if range != self.options.sort_key.as_ref().map(want) {
            problems.push(crate::error::ConfigProblem::new(
                "database.sort_key",
                format!(
                    "table `{}` has sort key {range:?}, the config says {:?}",
                    self.target.table,
                    self.options.sort_key.as_ref().map(want)
                ),
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems))
        }
    }

    pub(super) async fn create_table(&self) -> Result<()> {
        let element = |a: &KeyAttribute, kt: SdkKeyType| {
            KeySchemaElement::builder()
                .attribute_name(&a.name)
                .key_type(kt)
                .build()
        };
        let definition = |a: &KeyAttribute| {
            AttributeDefinition::builder()
                .attribute_name(&a.name)
                .attribute_type(scalar(a.kind))
                .build()
        };
        let built = || -> std::result::Result<_, aws_sdk_dynamodb::error::BuildError> {
            let mut req = self
                .client
                .create_table()
                .table_name(&self.target.table)
                .key_schema(element(&self.options.partition_key, SdkKeyType::Hash)?)
                .attribute_definitions(definition(&self.options.partition_key)?);
            if let Some(sort) = &self.options.sort_key {
                req = req
                    .key_schema(element(sort, SdkKeyType::Range)?)
                    .attribute_definitions(definition(sort)?);
            }
            Ok(match self.options.billing {
                Billing::OnDemand => req.billing_mode(BillingMode::PayPerRequest),
                Billing::Provisioned {
                    read_capacity,
                    write_capacity,
                } => req
                    .billing_mode(BillingMode::Provisioned)
                    .provisioned_throughput(
                        ProvisionedThroughput::builder()
                            .read_capacity_units(i64::from(read_capacity.get()))
                            .write_capacity_units(i64::from(write_capacity.get()))
                            .build()?,
                    ),
            })
        };
        let req = built()
            .map_err(|e| Error::config("database", format!("cannot build CreateTable: {e}")))?;
        let mut meta = OpMeta::default();
        match self
            .send("CreateTable", &mut meta, || req.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // Another worker created it meanwhile (ResourceInUseException).
            Err(Error::Backend(m)) if m.contains("ResourceInUseException") => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn wait_active(&self) -> Result<()> {
        let start = Instant::now();
        let mut meta = OpMeta::default();
        loop {
            let out = self
                .send("DescribeTable", &mut meta, || {
                    self.client
                        .describe_table()
                        .table_name(&self.target.table)
                        .send()
                })
                .await;
            let status = match out {
                Ok(o) => o.table().and_then(|t| t.table_status().cloned()),
                // Just created: some servers need a moment before they describe it.
                Err(Error::Config(_)) if start.elapsed() < Duration::from_secs(5) => None,
                Err(e) => return Err(e),
            };
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if start.elapsed() > TABLE_READY_TIMEOUT {
                return Err(Error::Timeout(format!(
                    "table `{}` is not ACTIVE after {:?} (status {status:?})",
                    self.target.table, TABLE_READY_TIMEOUT
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn scalar(k: KeyType) -> ScalarAttributeType {
    match k {
        KeyType::S => ScalarAttributeType::S,
        KeyType::N => ScalarAttributeType::N,
        KeyType::B => ScalarAttributeType::B,
    }
}
