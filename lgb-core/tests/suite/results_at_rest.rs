//! Encrypted results: a directory round-trips exactly; a wrong key, an altered byte, a
//! truncated file and a foreign file are refused clearly.
use crate::report_common;

use lgb_core::results::{decrypt_to_dir, encrypt_dir, files_of, ResultsKey, MAGIC};
use lgb_core::results::{load_run, write_run};

fn results_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_run(&report_common::run(), tmp.path()).unwrap();
    (tmp, dir)
}

#[test]
fn encryption_round_trips_every_file() {
    let (_tmp, dir) = results_dir();
    let key = ResultsKey::generate();
    let sealed = encrypt_dir(&dir, &key).unwrap();
    assert_eq!(&sealed[..8], MAGIC);
    // Nothing of the plaintext shows through.
    let json = std::fs::read(dir.join("result.json")).unwrap();
    assert!(!sealed
        .windows(16)
        .any(|w| json.windows(16).take(200).any(|j| j == w)));
    let out = tempfile::tempdir().unwrap();
    let written = decrypt_to_dir(&sealed, &key, out.path()).unwrap();
    let before = files_of(&dir).unwrap();
    let after = files_of(out.path()).unwrap();
    assert_eq!(written.len(), before.len());
    assert_eq!(
        before.iter().map(|f| &f.0).collect::<Vec<_>>(),
        after.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(
        before.iter().any(|(name, _)| name.starts_with("hdr/")),
        "subdirectories are kept"
    );
    for ((_, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{}",
            a.display()
        );
    }
    assert_eq!(load_run(out.path()).unwrap(), load_run(&dir).unwrap());
    // A fresh nonce every time.
    assert_ne!(encrypt_dir(&dir, &key).unwrap(), sealed);
}

#[test]
fn wrong_keys_and_damage_are_refused_clearly() {
    let (_tmp, dir) = results_dir();
    let key = ResultsKey::generate();
    let sealed = encrypt_dir(&dir, &key).unwrap();
    let out = tempfile::tempdir().unwrap();

    let err = decrypt_to_dir(&sealed, &ResultsKey::generate(), out.path()).unwrap_err();
    assert!(err.to_string().contains("wrong key"), "{err}");
    assert!(
        matches!(err, lgb_core::Error::Config(_)),
        "bad input, exit code 2"
    );

    let mut altered = sealed.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 1;
    assert!(decrypt_to_dir(&altered, &key, out.path())
        .unwrap_err()
        .to_string()
        .contains("altered"));
    assert!(decrypt_to_dir(&sealed[..sealed.len() - 1], &key, out.path()).is_err());
    let err = decrypt_to_dir(b"{\"schema_version\": 1}", &key, out.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("LGBENC01"), "{err}");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing written on failure"
    );
}

#[test]
fn keys_come_from_the_environment_with_clear_errors() {
    let key = ResultsKey::generate();
    // A variable name of this test only, so parallel tests cannot interfere.
    std::env::set_var("LGB_TEST_RESULTS_KEY", key.to_base64());
    let (_tmp, dir) = results_dir();
    let sealed = encrypt_dir(&dir, &ResultsKey::from_env("LGB_TEST_RESULTS_KEY").unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    decrypt_to_dir(&sealed, &key, out.path()).unwrap();
    std::env::set_var("LGB_TEST_RESULTS_KEY", "dG9vIHNob3J0");
    let err = ResultsKey::from_env("LGB_TEST_RESULTS_KEY")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("LGB_TEST_RESULTS_KEY") && err.contains("32 bytes"),
        "{err}"
    );
    assert!(
        !err.contains("dG9vIHNob3J0"),
        "the key is not echoed: {err}"
    );
    let err = ResultsKey::from_env("LGB_TEST_RESULTS_KEY_UNSET")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not set"), "{err}");
}
