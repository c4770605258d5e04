//! Loads into SeaweedFS over the S3 API, checked with a separate S3 client.
//!
//! The server comes from `DLT_TEST_S3_ENDPOINT` or is started by
//! `scripts/start-seaweedfs.sh`; the tests fail when neither works.

mod common;

use std::sync::{Arc, Mutex};

use common::s3::{S3Server, server};
use common::scenarios::{self, BucketView};
use common::*;
use destination_filesystem::FilesystemDestination;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use plugin_sdk::protocol::StateRequest;
use plugin_sdk::{Destination, ErrorCategory};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A destination on a fresh prefix of the test bucket, with a client that
/// reads the same prefix.
struct Fixture {
    jobs: TempDir,
    config: Value,
    client: AmazonS3,
    /// The prefix inside the bucket, without slashes at either end.
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn new(test: &str) -> Self {
        let server: &S3Server = server();
        let config = server.config(test);
        let url = config["bucket_url"].as_str().expect("bucket_url").to_owned();
        let prefix = url.trim_start_matches(&format!("s3://{}/", server.bucket)).to_owned();
        let client = AmazonS3Builder::new()
            .with_bucket_name(&server.bucket)
            .with_access_key_id(&server.access_key)
            .with_secret_access_key(&server.secret_key)
            .with_endpoint(&server.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .build()
            .expect("build S3 client");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("start runtime");
        Fixture {
            jobs: tempfile::tempdir().expect("create job folder"),
            config,
            client,
            prefix,
            runtime,
        }
    }

    fn destination(&self) -> FilesystemDestination {
        FilesystemDestination::from_json(&self.config).expect("open destination")
    }

    /// Opens a destination with `loader_file_format` set to `format`.
    fn destination_writing(&self, format: &str) -> FilesystemDestination {
        let mut config = self.config.clone();
        config["loader_file_format"] = json!(format);
        FilesystemDestination::from_json(&config).expect("open destination")
    }

    fn object(&self, path: &str) -> ObjectPath {
        ObjectPath::from(format!("{}/{path}", self.prefix))
    }
}

impl BucketView for Fixture {
    fn files(&self) -> Vec<String> {
        let prefix = ObjectPath::from(self.prefix.as_str());
        let objects: Vec<_> = self
            .runtime
            .block_on(self.client.list(Some(&prefix)).try_collect())
            .expect("list objects");
        let mut files: Vec<String> = objects
            .into_iter()
            .map(|meta| meta.location.to_string()[self.prefix.len() + 1..].to_owned())
            .collect();
        files.sort();
        files
    }

    fn read(&self, path: &str) -> Vec<u8> {
        self.runtime
            .block_on(async { self.client.get(&self.object(path)).await?.bytes().await })
            .expect("read object")
            .to_vec()
    }

    fn write(&self, path: &str, content: &[u8]) {
        self.runtime
            .block_on(self.client.put(&self.object(path), PutPayload::from(content.to_vec())))
            .expect("write object");
    }
}

#[test]
fn layout_matches_dlt() {
    let fixture = Fixture::new("layout");
    scenarios::layout_matches_dlt(&mut fixture.destination(), &fixture, fixture.jobs.path());
}

#[test]
fn replace_keeps_only_new() {
    let fixture = Fixture::new("replace");
    scenarios::replace_keeps_only_new(&mut fixture.destination(), &fixture, fixture.jobs.path());
}

#[test]
fn committed_package_skipped() {
    let fixture = Fixture::new("committed");
    scenarios::committed_package_skipped(&mut fixture.destination(), &fixture, fixture.jobs.path());
}

#[test]
fn retry_overwrites_files() {
    let fixture = Fixture::new("retry");
    scenarios::retry_overwrites_files(&mut fixture.destination(), &fixture, fixture.jobs.path());
}

#[test]
fn state_requires_committed_load() {
    let fixture = Fixture::new("state");
    scenarios::state_requires_committed_load(&mut fixture.destination(), &fixture, fixture.jobs.path());
}

#[test]
fn schema_requires_committed_load() {
    let fixture = Fixture::new("schema");
    scenarios::schema_requires_committed_load(&mut fixture.destination(), &fixture, fixture.jobs.path());
}

#[test]
fn empty_prefix_has_nothing() {
    let fixture = Fixture::new("empty");
    scenarios::empty_bucket_has_nothing(&mut fixture.destination());
}

#[test]
fn jsonl_gzip_files() {
    let fixture = Fixture::new("jsonl_gzip_files");
    let mut destination = fixture.destination_writing("jsonl");
    scenarios::text_format_files(&mut destination, &fixture, fixture.jobs.path(), "jsonl.gz");
}

#[test]
fn csv_gzip_files() {
    let fixture = Fixture::new("csv_gzip_files");
    let mut destination = fixture.destination_writing("csv");
    scenarios::text_format_files(&mut destination, &fixture, fixture.jobs.path(), "csv.gz");
}

#[test]
fn large_file_uploaded_in_parts() {
    let fixture = Fixture::new("multipart");
    let ids: Vec<i64> = (0..1_500_000).collect();
    let users = users_file(fixture.jobs.path(), "7777777777", "1700000001.1", &ids);
    assert!(std::fs::metadata(&users).expect("job file").len() > 8 * 1024 * 1024, "job file must exceed one part");
    let package = request("1700000001.1", vec![table("users", "append", None)], &[], vec![job("users", &users, 1_500_000)]);

    fixture.destination().load_package(&package).expect("load package");

    let stored = fixture.read("ds/users/1700000001.1.7777777777.parquet");
    assert!(stored == std::fs::read(&users).expect("read job file"), "uploaded file must equal the job file");
}

/// Captured log lines of one test, at every level.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn bad_credentials_are_config_errors() {
    let server = server();
    let secret = "Zq7-canary-secret-9150";
    let key_id = "canary-key-id-4711";
    let config = json!({
        "type": "filesystem",
        "bucket_url": server.bucket_url("bad-credentials"),
        "credentials": {
            "aws_access_key_id": key_id,
            "aws_secret_access_key": secret,
            "endpoint_url": server.endpoint,
        },
    });
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();

    let error = tracing::subscriber::with_default(subscriber, || {
        let mut destination = FilesystemDestination::from_json(&config).expect("open destination");
        let request = StateRequest {
            dataset_name: DATASET.to_owned(),
            pipeline_name: PIPELINE.to_owned(),
        };
        destination.fetch_state(&request).expect_err("the server must reject the credentials")
    });

    let text = error.to_string();
    let logged = String::from_utf8_lossy(&logs.0.lock().expect("log buffer lock")).into_owned();
    assert_eq!(error.category, ErrorCategory::Config, "{text}");
    assert!(text.contains("credentials.aws_access_key_id"), "{text}");
    assert!(!text.contains(secret), "{text}");
    assert!(!text.contains(key_id), "{text}");
    assert!(!logged.contains(secret), "secret in logs:\n{logged}");
    assert!(!logged.contains(key_id), "key id in logs:\n{logged}");
}

#[test]
fn missing_bucket_is_config_error() {
    let server = server();
    let config = json!({
        "bucket_url": "s3://no-such-bucket-dlt-test/x",
        "credentials": {
            "aws_access_key_id": server.access_key,
            "aws_secret_access_key": server.secret_key,
            "endpoint_url": server.endpoint,
        },
    });
    let mut destination = FilesystemDestination::from_json(&config).expect("open destination");
    let request = StateRequest {
        dataset_name: DATASET.to_owned(),
        pipeline_name: PIPELINE.to_owned(),
    };

    let error = destination.fetch_state(&request).expect_err("the bucket does not exist");

    assert_eq!(error.category, ErrorCategory::Config, "{error}");
    assert!(error.message().contains("`bucket_url`"), "{error}");
}
