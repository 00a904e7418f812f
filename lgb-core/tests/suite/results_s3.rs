//! Upload of a results directory to S3, against the local moto server (which serves
//! S3 on the same port as Timestream).
#![cfg(feature = "s3")]
use crate::common;
use crate::report_common;

use aws_sdk_s3::types::ServerSideEncryption;
use lgb_core::results::write_run;
use lgb_core::results::{
    files_of, upload_dir, verify_upload, S3Location, UploadOptions, MANIFEST_FILE,
};

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
    let up = upload_dir(&dir, &to, &options).await.unwrap();
    let keys = &up.keys;

    let files = files_of(&dir).unwrap();
    assert_eq!((up.sent, up.already_there), (files.len(), 0));
    assert_eq!(keys.len(), files.len() + 1, "every file and the manifest");
    assert_eq!(
        keys.last().unwrap(),
        &format!("bench/nightly/{run_id}/{MANIFEST_FILE}"),
        "the manifest goes last"
    );
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
        .unwrap()
        .keys;
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
    .unwrap()
    .keys;
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

/// S3 behind a proxy that drops every connection after `after` requests: an upload
/// cut off midway. It names what it uploaded, leaves no manifest (so the prefix reads
/// as incomplete), and the same upload run again finishes it without sending again
/// what is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_midway_names_what_it_sent_and_resumes() {
    let env = common::service_env("timestream");
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        std::env::set_var(k, &env[k]);
    }
    let endpoint = env["LGB_TIMESTREAM_ENDPOINT"].clone();
    let s3 = client(&endpoint).await;
    let bucket = format!("lgb-resume-{}", common::unique_prefix("s3").to_lowercase());
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    // Several tests, so that the directory has enough files to stop in the middle.
    let mut run = report_common::run();
    for name in ["b", "c", "d"] {
        let mut t = run.tests[0].clone();
        t.name = name.into();
        t.files.clear();
        run.push_test(t);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_run(&run, tmp.path()).unwrap();
    let run_id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let files = files_of(&dir).unwrap();
    assert!(files.len() >= 6, "{files:?}");
    let to: S3Location = format!("s3://{bucket}/runs").parse().unwrap();
    let at_run: S3Location = format!("s3://{bucket}/runs/{run_id}").parse().unwrap();

    // One listing and three files pass; then the connection drops (the SDK retries,
    // and finds the server gone).
    let cut = lgb_testkit::latency_proxy::start(
        &endpoint,
        lgb_testkit::latency_proxy::Schedule {
            drop_after: Some(4),
            ..Default::default()
        },
        None,
    )
    .await;
    let options = |endpoint: &str| UploadOptions {
        kms_key_id: None,
        endpoint: Some(endpoint.to_string()),
    };
    let err = upload_dir(&dir, &to, &options(&cut.endpoint))
        .await
        .unwrap_err()
        .to_string();
    eprintln!("{err}");
    assert!(
        err.contains(&format!(
            "3 of {} files are in s3://{bucket}/runs/{run_id}/",
            files.len()
        )),
        "{err}"
    );
    for (name, _) in &files[..3] {
        assert!(err.contains(name.as_str()), "{name} not named: {err}");
    }
    assert!(err.contains("run the same upload again"), "{err}");
    // A reader sees an incomplete upload: no manifest.
    let e = verify_upload(&at_run, &options(&endpoint))
        .await
        .unwrap_err();
    assert_eq!(e.class(), lgb_core::ErrorClass::NotFound, "{e}");
    assert!(e.to_string().contains("upload did not finish"), "{e}");

    // Again, straight to S3: the three files there are not sent again.
    let up = upload_dir(&dir, &to, &options(&endpoint)).await.unwrap();
    assert_eq!((up.already_there, up.sent), (3, files.len() - 3));
    let manifest = verify_upload(&at_run, &options(&endpoint)).await.unwrap();
    assert_eq!(manifest.run_id, run_id);
    assert_eq!(manifest.files.len(), files.len());
    for (entry, (name, path)) in manifest.files.iter().zip(&files) {
        assert_eq!(&entry.path, name);
        assert_eq!(entry.size, std::fs::metadata(path).unwrap().len());
    }
    // Once more: nothing to send.
    let up = upload_dir(&dir, &to, &options(&endpoint)).await.unwrap();
    assert_eq!((up.already_there, up.sent), (files.len(), 0));

    // A file changed in S3 (another size) no longer matches the manifest.
    s3.put_object()
        .bucket(&bucket)
        .key(format!("runs/{run_id}/summary.csv"))
        .body(b"changed".to_vec().into())
        .send()
        .await
        .unwrap();
    let e = verify_upload(&at_run, &options(&endpoint))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("summary.csv is missing or differs"),
        "{e}"
    );
}
