//! Blocking access to the bucket through `object_store`: put, get, list and
//! delete of objects addressed by `/`-separated paths below the bucket URL.

use std::io::Read;
use std::path::Path as LocalPath;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use plugin_sdk::PluginError;

use crate::config::{BucketLocation, BucketScheme, FilesystemConfig};
use crate::credentials::Credentials;
use crate::error::{Redactor, store_error};

/// Files up to this size are uploaded in one request; larger ones in parts of
/// this size. S3 requires parts of at least 5 MiB.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts of one multipart upload in flight at a time.
const MAX_CONCURRENT_PARTS: usize = 4;

/// The bucket of one destination, with the runtime that drives its requests.
pub(crate) struct Bucket {
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    redactor: Redactor,
    /// The configured bucket URL, for messages.
    url: String,
}

impl Bucket {
    /// Creates the store client for `config`. No request is sent yet.
    pub(crate) fn open(config: &FilesystemConfig) -> Result<Self, PluginError> {
        let redactor = Redactor::new(config.credentials.secret_values());
        // The builders check settings only, so each of their errors is a
        // configuration error.
        let store = build_store(config).map_err(|error| {
            let context = format!("invalid filesystem destination settings for `bucket_url` {}", config.bucket_url);
            let mut plugin_error = store_error(&error, context, &redactor);
            plugin_error.category = plugin_sdk::ErrorCategory::Config;
            plugin_error
        })?;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| PluginError::internal("failed to start the I/O runtime").with_source(&error))?;

        Ok(Bucket {
            store,
            runtime,
            redactor,
            url: config.bucket_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Returns `<bucket_url>/<path>`, for messages and logs.
    pub(crate) fn display(&self, path: &str) -> String {
        format!("{}/{}", self.url, path)
    }

    /// Writes `bytes` to `path` in one request, replacing an existing object.
    /// The write is atomic: readers see the old or the new object.
    pub(crate) fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), PluginError> {
        let location = object_path(path);
        self.block_on(self.store.put(&location, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|error| self.error(&error, format!("failed to write {}", self.display(path))))
    }

    /// Copies the local file `source` to `path`, in parts when it is larger
    /// than [`PART_SIZE`]; returns the number of bytes written.
    pub(crate) fn upload_file(&self, source: &LocalPath, path: &str) -> Result<u64, PluginError> {
        let read_error = |error: std::io::Error| {
            PluginError::terminal(format!("failed to read load file {}", source.display())).with_source(&error)
        };
        let size = std::fs::metadata(source).map_err(read_error)?.len();

        if size <= PART_SIZE as u64 {
            let bytes = std::fs::read(source).map_err(read_error)?;
            self.put(path, bytes)?;
            return Ok(size);
        }

        let location = object_path(path);
        let context = || format!("failed to upload {} to {}", source.display(), self.display(path));
        self.block_on(async {
            let upload = self
                .store
                .put_multipart(&location)
                .await
                .map_err(|error| self.error(&error, context()))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut file = std::fs::File::open(source).map_err(read_error)?;
            let mut buffer = vec![0_u8; PART_SIZE];
            loop {
                let read = file.read(&mut buffer).map_err(read_error)?;
                if read == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(MAX_CONCURRENT_PARTS)
                    .await
                    .map_err(|error| self.error(&error, context()))?;
                writer.write(&buffer[..read]);
            }
            writer.finish().await.map_err(|error| self.error(&error, context()))
        })?;
        Ok(size)
    }

    /// Returns the content of `path`, or `None` when it does not exist.
    pub(crate) fn get(&self, path: &str) -> Result<Option<Vec<u8>>, PluginError> {
        let location = object_path(path);
        let result = self.block_on(async {
            let response = self.store.get(&location).await?;
            response.bytes().await
        });
        match result {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(self.error(&error, format!("failed to read {}", self.display(path)))),
        }
    }

    /// Returns whether an object exists at `path`.
    pub(crate) fn exists(&self, path: &str) -> Result<bool, PluginError> {
        let location = object_path(path);
        match self.block_on(self.store.head(&location)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(self.error(&error, format!("failed to look up {}", self.display(path)))),
        }
    }

    /// Returns the paths of all objects below `folder`, at any depth, sorted.
    /// A folder that does not exist has no objects.
    pub(crate) fn list(&self, folder: &str) -> Result<Vec<String>, PluginError> {
        let prefix = object_path(folder);
        let listed: Result<Vec<_>, _> = self.block_on(self.store.list(Some(&prefix)).try_collect());
        let objects = match listed {
            Ok(objects) => objects,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(error) => {
                return Err(self.error(&error, format!("failed to list {}", self.display(folder))));
            }
        };

        let mut paths: Vec<String> = objects
            .into_iter()
            .map(|meta| meta.location.to_string())
            .collect();
        paths.sort();
        Ok(paths)
    }

    /// Deletes `path`; an object that is already gone is not an error.
    pub(crate) fn delete(&self, path: &str) -> Result<(), PluginError> {
        let location = object_path(path);
        match self.block_on(self.store.delete(&location)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.error(&error, format!("failed to delete {}", self.display(path)))),
        }
    }

    fn error(&self, error: &object_store::Error, context: String) -> PluginError {
        store_error(error, context, &self.redactor)
    }

    /// Runs `future` to completion on this bucket's runtime.
    ///
    /// A thread that is already inside a Tokio runtime (a linked destination
    /// called from async code) must not block on another runtime, so the
    /// future then runs on a scoped helper thread.
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.runtime.block_on(future);
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.runtime.block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// Converts a `/`-separated relative path to an object store path.
///
/// `Path::from` splits on `/` and percent-encodes characters that are not
/// valid in a segment, so any dataset or table name yields a valid path.
fn object_path(path: &str) -> Path {
    Path::from(path)
}

fn build_store(config: &FilesystemConfig) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    match &config.location {
        BucketLocation::Local(folder) => {
            let root = Path::from_absolute_path(folder).map_err(|error| object_store::Error::InvalidPath { source: error })?;
            Ok(Arc::new(PrefixStore::new(object_store::local::LocalFileSystem::new(), root)))
        }
        BucketLocation::Memory { prefix } => Ok(with_prefix(InMemory::new(), prefix)),
        BucketLocation::Cloud { scheme, bucket, prefix } => match scheme {
            BucketScheme::S3 => Ok(with_prefix(build_s3(bucket, &config.credentials)?, prefix)),
            BucketScheme::Gcs => Ok(with_prefix(build_gcs(bucket, &config.credentials)?, prefix)),
            BucketScheme::Azure => Ok(with_prefix(build_azure(bucket, &config.credentials)?, prefix)),
            BucketScheme::File | BucketScheme::Memory => unreachable!("parsed as local or memory locations"),
        },
    }
}

fn with_prefix<T: ObjectStore>(store: T, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

/// Builds an S3 client. Settings not in `credentials` come from the standard
/// `AWS_*` environment variables, as boto does for dlt.
fn build_s3(bucket: &str, credentials: &Credentials) -> Result<object_store::aws::AmazonS3, object_store::Error> {
    let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);

    if let Some(key_id) = credentials.get("aws_access_key_id") {
        builder = builder.with_access_key_id(key_id);
    }
    if let Some(secret) = credentials.get("aws_secret_access_key") {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = credentials.get("aws_session_token") {
        builder = builder.with_token(token);
    }
    if let Some(region) = credentials.get("region_name") {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = credentials.get("endpoint_url") {
        // S3-compatible stores on a local network often speak plain HTTP;
        // an http:// endpoint is the user's explicit choice.
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    builder.build()
}

/// Builds a GCS client from dlt's service-account fields, or from
/// `GOOGLE_*` environment variables when they are absent.
///
/// NOTE: not tested against a GCS server.
fn build_gcs(
    bucket: &str,
    credentials: &Credentials,
) -> Result<object_store::gcp::GoogleCloudStorage, object_store::Error> {
    let mut builder = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);

    if let (Some(private_key), Some(client_email)) = (credentials.get("private_key"), credentials.get("client_email")) {
        let key = serde_json::json!({
            "type": "service_account",
            "project_id": credentials.get("project_id"),
            "private_key_id": credentials.get("private_key_id"),
            "private_key": private_key,
            "client_email": client_email,
        });
        builder = builder.with_service_account_key(key.to_string());
    }
    builder.build()
}

/// Builds an Azure Blob client for `container`, or from `AZURE_*`
/// environment variables for settings not in `credentials`.
///
/// NOTE: not tested against an Azure server.
fn build_azure(
    container: &str,
    credentials: &Credentials,
) -> Result<object_store::azure::MicrosoftAzure, object_store::Error> {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};

    let mut builder = MicrosoftAzureBuilder::from_env().with_container_name(container);
    if let Some(account) = credentials.get("azure_storage_account_name") {
        builder = builder.with_account(account);
    }
    if let Some(key) = credentials.get("azure_storage_account_key") {
        builder = builder.with_access_key(key);
    }
    if let Some(token) = credentials.get("azure_storage_sas_token") {
        builder = builder.with_config(AzureConfigKey::SasKey, token);
    }
    builder.build()
}
