//! Upload of a results directory to S3, against the local moto server (which serves
//! S3 on the same port as Timestream).
#![cfg(feature = "s3")]
use crate::common;
use crate::report_common;

use aws_sdk_s3::types::ServerSideEncryption;
use lgb_core::results::{files_of, upload_dir, S3Location, UploadOptions};
use lgb_core::runner::write_run;

async fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .build(),
    )
}

#[tokio::test]
async fn uploads_every_file_with_server_side_encryption() {
    let env = common::service_env("timestream");
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        std::env::set_var(k, &env[k]);
    }
    let endpoint = env["LGB_TIMESTREAM_ENDPOINT"].clone();
    let s3 = client(&endpoint).await;
    let bucket = format!("lgb-results-{}", common::unique_prefix("s3").to_lowercase());
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let dir = write_run(&report_common::run(), tmp.path()).unwrap();
    let run_id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let to: S3Location = format!("s3://{bucket}/bench/nightly/").parse().unwrap();
    let options = UploadOptions {
        kms_key_id: None,
        endpoint: Some(endpoint.clone()),
    };
    let keys = upload_dir(&dir, &to, &options).await.unwrap();

    let files = files_of(&dir).unwrap();
    assert_eq!(keys.len(), files.len());
    for (name, path) in &files {
        let key = format!("bench/nightly/{run_id}/{name}");
        assert!(keys.contains(&key), "{key} not in {keys:?}");
        let obj = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            obj.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );
        let body = obj.body.collect().await.unwrap().into_bytes();
        assert_eq!(
            body.as_ref(),
            std::fs::read(path).unwrap().as_slice(),
            "{key}"
        );
    }
    let json = s3
        .head_object()
        .bucket(&bucket)
        .key(format!("bench/nightly/{run_id}/result.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(json.content_type(), Some("application/json"));

    // With a KMS key, objects say so.
    let kms = UploadOptions {
        kms_key_id: Some("alias/lgb-results".into()),
        endpoint: Some(endpoint.clone()),
    };
    let keys = upload_dir(&dir, &format!("s3://{bucket}/kms").parse().unwrap(), &kms)
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(head.ssekms_key_id(), Some("alias/lgb-results"));

    // An encrypted results file goes up as one object that decrypts to the directory.
    let key = lgb_core::results::ResultsKey::generate();
    let sealed = tmp.path().join(format!("{run_id}.lgbenc"));
    std::fs::write(&sealed, lgb_core::results::encrypt_dir(&dir, &key).unwrap()).unwrap();
    let keys = upload_dir(
        &sealed,
        &format!("s3://{bucket}/sealed").parse().unwrap(),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(keys, [format!("sealed/{run_id}.lgbenc")]);
    let obj = s3
        .get_object()
        .bucket(&bucket)
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    let body = obj.body.collect().await.unwrap().into_bytes();
    let back = tempfile::tempdir().unwrap();
    lgb_core::results::decrypt_to_dir(&body, &key, back.path()).unwrap();
    assert_eq!(
        std::fs::read(back.path().join("result.json")).unwrap(),
        std::fs::read(dir.join("result.json")).unwrap()
    );

    // A missing bucket is a not_found error naming the object.
    let err = upload_dir(
        &dir,
        &"s3://lgb-no-such-bucket-x/p".parse().unwrap(),
        &options,
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), lgb_core::ErrorClass::NotFound, "{err}");
    assert!(
        err.to_string().contains("s3://lgb-no-such-bucket-x/p/"),
        "{err}"
    );
}
