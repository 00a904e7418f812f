//! The AWS API calls lgb's code makes, client by client, and the IAM action each one
//! needs: the source of truth for least privilege.
//!
//! [`CLIENTS`] lists every AWS client of lgb-core with the source files that use it.
//! A unit test reads those files and fails when the code calls an operation the table
//! does not list, or the table lists one the code no longer calls; another keeps
//! `tests/infra/iam-actions.json` (the table as JSON) current; and `tests/infra`
//! compares that file with the policy documents of `infra/iam.tf`: a grant no code
//! needs, or a call not granted, fails the infra tests.

/// Whose credentials make a client's calls, and so which policy must grant them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The Lambda worker of this database type (its execution role).
    Worker(&'static str),
    /// Whoever runs `lgb run` / `lgb upload` (infra/'s runner policy).
    Runner,
}

/// When a call happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// In every use of the client: the deployment must grant it.
    Always,
    /// Only with a setting that a deployment made by `infra/` does not use (named
    /// here); the deployment must not grant it.
    Only(&'static str),
}

/// One API call of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The method of the client in the code (`get_item`), or for calls the SDK makes
    /// by itself, the method that turns them on.
    pub method: &'static str,
    /// The IAM action the call needs (`dynamodb:GetItem`).
    pub action: &'static str,
    /// When the code makes it.
    pub when: When,
}

/// An AWS client of lgb-core and the calls it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// A short name (`dynamodb adapter`).
    pub name: &'static str,
    /// Whose credentials it uses.
    pub caller: Caller,
    /// Source files (relative to `lgb-core/src`; a folder's name covers `NAME.rs` and
    /// `NAME/`) in which the client is used.
    pub sources: &'static [&'static str],
    /// The variable names the client goes by in those files (`client.get_item()`);
    /// none for a client that is not an AWS SDK client.
    pub receivers: &'static [&'static str],
    /// Every API call it makes.
    pub calls: &'static [Call],
}

const fn always(method: &'static str, action: &'static str) -> Call {
    Call {
        method,
        action,
        when: When::Always,
    }
}

const fn only(method: &'static str, action: &'static str, setting: &'static str) -> Call {
    Call {
        method,
        action,
        when: When::Only(setting),
    }
}

/// IAM actions of the DynamoDB adapter (`database::dynamodb`).
pub const DYNAMODB_ADAPTER: Client = Client {
    name: "dynamodb adapter",
    caller: Caller::Worker("dynamodb"),
    sources: &["database/dynamodb"],
    receivers: &["client"],
    calls: &[
        always("batch_get_item", "dynamodb:BatchGetItem"),
        always("batch_write_item", "dynamodb:BatchWriteItem"),
        always("get_item", "dynamodb:GetItem"),
        always("put_item", "dynamodb:PutItem"),
        always("query", "dynamodb:Query"),
        // A scan operation on a table without a sort key is a paginated Scan.
        always("scan", "dynamodb:Scan"),
        // A query operation's PartiQL SELECT; a PartiQL write statement would need
        // PartiQLInsert/Update/Delete, which the deployment does not grant.
        always("execute_statement", "dynamodb:PartiQLSelect"),
        only(
            "describe_table",
            "dynamodb:DescribeTable",
            "database.create_table_if_missing",
        ),
        only(
            "create_table",
            "dynamodb:CreateTable",
            "database.create_table_if_missing",
        ),
    ],
};

/// IAM actions of the Timestream adapter (`database::timestream`).
pub const TIMESTREAM_ADAPTER: Client = Client {
    name: "timestream adapter",
    caller: Caller::Worker("timestream"),
    sources: &["database/timestream"],
    receivers: &["write", "query"],
    calls: &[
        always("write_records", "timestream:WriteRecords"),
        always("query", "timestream:Select"),
        // Endpoint discovery: the SDK calls DescribeEndpoints before the first call.
        always(
            "with_endpoint_discovery_enabled",
            "timestream:DescribeEndpoints",
        ),
        only(
            "describe_database",
            "timestream:DescribeDatabase",
            "database.create_if_missing",
        ),
        only(
            "create_database",
            "timestream:CreateDatabase",
            "database.create_if_missing",
        ),
        only(
            "describe_table",
            "timestream:DescribeTable",
            "database.create_if_missing",
        ),
        only(
            "create_table",
            "timestream:CreateTable",
            "database.create_if_missing",
        ),
    ],
};

/// IAM actions of the immudb adapter (`database::immudb`): its password from Secrets
/// Manager (the deployment always gives the secret's ARN).
pub const IMMUDB_ADAPTER: Client = Client {
    name: "immudb adapter",
    caller: Caller::Worker("immudb"),
    sources: &["database/immudb", "database/secrets.rs"],
    receivers: &["client"],
    calls: &[always("get_secret_value", "secretsmanager:GetSecretValue")],
};

/// IAM actions of the influxdb adapter (`database::influxdb`): its token from
/// Secrets Manager (the deployment always gives the secret's ARN). The InfluxDB API
/// is authorized by the token, not by IAM.
pub const INFLUXDB_ADAPTER: Client = Client {
    name: "influxdb adapter",
    caller: Caller::Worker("influxdb"),
    sources: &["database/influxdb", "database/secrets.rs"],
    receivers: &["client"],
    calls: &[always("get_secret_value", "secretsmanager:GetSecretValue")],
};

/// IAM actions of the runner's `LambdaInvoker` and its configuration control
/// (`runner::lambda`).
pub const LAMBDA_INVOKER: Client = Client {
    name: "lambda invoker",
    caller: Caller::Runner,
    sources: &["runner/lambda.rs"],
    receivers: &["client"],
    calls: &[
        always("invoke", "lambda:InvokeFunction"),
        // `runner.cold_start: "force"` and `lgb sweep` change the function's
        // configuration and wait for the change (runner::lambda::LambdaControl).
        always(
            "get_function_configuration",
            "lambda:GetFunctionConfiguration",
        ),
        always(
            "update_function_configuration",
            "lambda:UpdateFunctionConfiguration",
        ),
    ],
};

/// IAM actions of the preflight's reads and the sweep's versions and aliases
/// (`runner::lambda_admin`): the function's settings and reservation, the account's
/// concurrency, a version and alias per memory size, deleted afterwards. Deleting a
/// version is `DeleteFunction` with a qualifier: the runner policy grants it on the
/// function's versions (`function:NAME:*`), not on the function itself.
pub const LAMBDA_ADMIN: Client = Client {
    name: "lambda preflight and sweep",
    caller: Caller::Runner,
    sources: &["runner/lambda_admin.rs"],
    receivers: &["client"],
    calls: &[
        always(
            "get_function_configuration",
            "lambda:GetFunctionConfiguration",
        ),
        always("get_function_concurrency", "lambda:GetFunctionConcurrency"),
        always("get_account_settings", "lambda:GetAccountSettings"),
        always(
            "update_function_configuration",
            "lambda:UpdateFunctionConfiguration",
        ),
        always("publish_version", "lambda:PublishVersion"),
        always("delete_function", "lambda:DeleteFunction"),
        always("create_alias", "lambda:CreateAlias"),
        always("update_alias", "lambda:UpdateAlias"),
        always("get_alias", "lambda:GetAlias"),
        always("delete_alias", "lambda:DeleteAlias"),
    ],
};

/// IAM actions of the runner's Function URL invoker (`runner::function_url`): a POST
/// signed with SigV4 for service `lambda`, not an SDK call. Lambda authorizes an
/// `AWS_IAM` caller of a Function URL created since October 2025 for both
/// `lambda:InvokeFunctionUrl` and `lambda:InvokeFunction` (older URLs, for a while,
/// only for the first): the one signed request needs both.
pub const FUNCTION_URL_INVOKER: Client = Client {
    name: "function url invoker",
    caller: Caller::Runner,
    sources: &["runner/function_url.rs"],
    // Not an SDK client: the test checks the signing for service `lambda` instead.
    receivers: &[],
    calls: &[
        always("sign", "lambda:InvokeFunctionUrl"),
        always("sign", "lambda:InvokeFunction"),
    ],
};

/// IAM actions of the results upload to S3 (`results`, `lgb upload`).
pub const RESULTS_UPLOAD: Client = Client {
    name: "results upload",
    caller: Caller::Runner,
    sources: &["results"],
    receivers: &["client"],
    // Resuming an upload asks what is there already (HeadObject, which S3 grants
    // with s3:GetObject) and reads the manifest back (GetObject).
    calls: &[
        always("put_object", "s3:PutObject"),
        always("head_object", "s3:GetObject"),
        always("get_object", "s3:GetObject"),
    ],
};

/// Every AWS client of lgb-core.
pub const CLIENTS: &[Client] = &[
    DYNAMODB_ADAPTER,
    TIMESTREAM_ADAPTER,
    IMMUDB_ADAPTER,
    INFLUXDB_ADAPTER,
    LAMBDA_INVOKER,
    LAMBDA_ADMIN,
    FUNCTION_URL_INVOKER,
    RESULTS_UPLOAD,
];

/// The actions `caller`'s policy must grant: the [`When::Always`] calls of its
/// clients, sorted, without duplicates.
pub fn required_actions(caller: Caller) -> Vec<&'static str> {
    let mut out: Vec<&str> = CLIENTS
        .iter()
        .filter(|c| c.caller == caller)
        .flat_map(|c| c.calls)
        .filter(|c| c.when == When::Always)
        .map(|c| c.action)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The table as JSON (`tests/infra/iam-actions.json`): per policy (`runner`,
/// `worker:<database>`), the actions it must grant and those only optional settings
/// use, which it must not grant.
pub fn to_json() -> serde_json::Value {
    let mut callers: Vec<Caller> = Vec::new();
    for c in CLIENTS {
        if !callers.contains(&c.caller) {
            callers.push(c.caller);
        }
    }
    let mut policies = serde_json::Map::new();
    for caller in callers {
        let key = match caller {
            Caller::Runner => "runner".to_string(),
            Caller::Worker(db) => format!("worker:{db}"),
        };
        let mut optional: Vec<serde_json::Value> = Vec::new();
        let mut clients = Vec::new();
        for c in CLIENTS.iter().filter(|c| c.caller == caller) {
            clients.push(c.name);
            for call in c.calls {
                if let When::Only(setting) = call.when {
                    optional.push(serde_json::json!({"action": call.action, "only_with": setting}));
                }
            }
        }
        policies.insert(
            key,
            serde_json::json!({
                "clients": clients,
                "required": required_actions(caller),
                "optional": optional,
            }),
        );
    }
    serde_json::json!({
        "generated_by": "lgb-core/src/iam.rs (cargo test -p lgb-core --lib iam; LGB_UPDATE_IAM_ACTIONS=1 rewrites this file)",
        "policies": policies,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    fn src() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    /// The text of a client's source files, whitespace removed.
    fn sources(client: &Client) -> String {
        let mut files = Vec::new();
        for s in client.sources {
            let p = src().join(s);
            if s.ends_with(".rs") {
                files.push(p);
                continue;
            }
            files.push(p.with_extension("rs"));
            if let Ok(dir) = std::fs::read_dir(&p) {
                files.extend(dir.flatten().map(|e| e.path()));
            }
        }
        let mut text = String::new();
        for f in files.iter().filter(|f| f.exists()) {
            text.push_str(&std::fs::read_to_string(f).unwrap());
        }
        assert!(
            !text.is_empty(),
            "{}: none of {:?} exists under lgb-core/src; update its `sources` in iam.rs",
            client.name,
            client.sources
        );
        text.split_whitespace().collect()
    }

    /// `receiver.method()` calls in `text`.
    fn calls(text: &str, receivers: &[&str]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for r in receivers {
            let needle = format!("{r}.");
            for (i, _) in text.match_indices(&needle) {
                // The receiver must be a whole name (`self.client.`, ` client.`).
                let before = text[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[i + needle.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && rest[name.len()..].starts_with("()") {
                    out.insert(name);
                }
            }
        }
        out
    }

    /// Methods of the receivers that are not API calls.
    const NOT_CALLS: &[&str] = &["clone"];

    #[test]
    fn the_table_lists_exactly_the_calls_in_the_code() {
        for client in CLIENTS.iter().filter(|c| !c.receivers.is_empty()) {
            let text = sources(client);
            let found: BTreeSet<String> = calls(&text, client.receivers)
                .into_iter()
                .filter(|m| !NOT_CALLS.contains(&m.as_str()))
                .collect();
            let listed: BTreeSet<String> =
                client.calls.iter().map(|c| c.method.to_string()).collect();
            assert_eq!(
                found, listed,
                "{}: the calls in {:?} (left) differ from its list in lgb-core/src/iam.rs (right)",
                client.name, client.sources
            );
        }
        // The Function URL invoker signs for service `lambda`.
        assert!(sources(&FUNCTION_URL_INVOKER).contains(".name(\"lambda\")"));
    }

    #[test]
    fn the_scan_finds_calls_and_ignores_other_names() {
        let text = "self.client.get_item().key(k);letx=my_client.put_item();write.query()";
        let found = calls(text, &["client", "write"]);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["get_item", "query"],
            "my_client is another variable"
        );
    }

    #[test]
    fn required_actions_are_the_always_calls() {
        assert_eq!(
            required_actions(Caller::Runner),
            [
                "lambda:CreateAlias",
                "lambda:DeleteAlias",
                "lambda:DeleteFunction",
                "lambda:GetAccountSettings",
                "lambda:GetAlias",
                "lambda:GetFunctionConcurrency",
                "lambda:GetFunctionConfiguration",
                "lambda:InvokeFunction",
                "lambda:InvokeFunctionUrl",
                "lambda:PublishVersion",
                "lambda:UpdateAlias",
                "lambda:UpdateFunctionConfiguration",
                "s3:GetObject",
                "s3:PutObject"
            ]
        );
        // A runner that only uses Function URLs needs both invoke actions too: the
        // Lambda invoker's InvokeFunction is not what grants it.
        let url: Vec<&str> = FUNCTION_URL_INVOKER
            .calls
            .iter()
            .map(|c| c.action)
            .collect();
        assert_eq!(url, ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]);
        assert!(FUNCTION_URL_INVOKER
            .calls
            .iter()
            .all(|c| c.when == When::Always));
        let ddb = required_actions(Caller::Worker("dynamodb"));
        assert!(ddb.contains(&"dynamodb:GetItem"));
        assert!(!ddb.contains(&"dynamodb:CreateTable"));
    }

    #[test]
    fn the_json_file_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/infra/iam-actions.json");
        let want = serde_json::to_string_pretty(&to_json()).unwrap() + "\n";
        if std::env::var_os("LGB_UPDATE_IAM_ACTIONS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is not what lgb-core/src/iam.rs says; regenerate it with \
             LGB_UPDATE_IAM_ACTIONS=1 cargo test -p lgb-core --lib iam",
            path.display()
        );
    }
}
