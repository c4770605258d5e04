//! Loads the built `cdylib` through `abi_stable`, as the runner does, and
//! calls each policy across the library boundary.
//!
//! The library must be built before this test runs. `cargo test -p
//! retry-policies` and `cargo build -p retry-policies` (or `cargo build
//! --workspace --all-targets`) both build it.

use std::path::PathBuf;

use abi_stable::library::lib_header_from_path;
use abi_stable::std_types::{RResult, RStr};
use plugin_sdk::ErrorCategory;
use plugin_sdk::ffi::{
    FfiRetryDecision, FfiRetryPolicyBox, HostServices, LogLevel, RetryPolicyModule_Ref,
};
use plugin_sdk::protocol::PluginInfo;

extern "C" fn discard_log(_level: LogLevel, _target: RStr<'_>, _message: RStr<'_>) {}

const HOST: HostServices = HostServices {
    log: discard_log,
    max_level: LogLevel::Warn,
};

/// Returns the newest built copy of the library.
///
/// `cargo build` writes `libretry_policies.so` (on Linux) to `target/<profile>/deps/`
/// and copies it up to `target/<profile>/`. `cargo test` rebuilds only the
/// `deps/` copy, which sits next to this test executable, so the copy in
/// `target/<profile>/` can be stale and the newer of the two is used.
fn library_path() -> PathBuf {
    let executable = std::env::current_exe().expect("the test executable path is readable");
    let deps_dir = executable
        .parent()
        .expect("the test executable sits in target/<profile>/deps");
    let profile_dir = deps_dir
        .parent()
        .expect("the test executable sits in target/<profile>/deps");

    let file_name = format!(
        "{}retry_policies{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let candidates = [deps_dir.join(&file_name), profile_dir.join(&file_name)];

    let newest = candidates
        .iter()
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
        .max_by_key(|(modified, _)| *modified);

    match newest {
        Some((_, path)) => path.clone(),
        None => panic!(
            "plugin library {file_name} not found in {} or {}; build it first with \
             `cargo build -p retry-policies` or `cargo build --workspace --all-targets`",
            deps_dir.display(),
            profile_dir.display()
        ),
    }
}

fn load_module() -> RetryPolicyModule_Ref {
    let path = library_path();

    lib_header_from_path(&path)
        .and_then(|header| header.init_root_module::<RetryPolicyModule_Ref>())
        .unwrap_or_else(|error| panic!("loading {} failed: {error}", path.display()))
}

fn new_policy(
    module: RetryPolicyModule_Ref,
    type_name: &str,
    parameters: &str,
) -> FfiRetryPolicyBox {
    match module.new_policy()(RStr::from(type_name), RStr::from(parameters), HOST) {
        RResult::ROk(policy) => policy,
        RResult::RErr(error) => panic!("new_policy({type_name}, {parameters}) failed: {error}"),
    }
}

fn retry_after_ms(wait_ms: u64) -> FfiRetryDecision {
    FfiRetryDecision {
        retry: true,
        wait_ms,
    }
}

const STOP: FfiRetryDecision = FfiRetryDecision {
    retry: false,
    wait_ms: 0,
};

#[test]
fn library_reports_info() {
    let module = load_module();

    let info: PluginInfo =
        serde_json::from_str(module.info()().as_str()).expect("info is a PluginInfo JSON document");

    assert_eq!(info.name, "builtin");
    assert_eq!(info.abi_version, plugin_sdk::ABI_VERSION);
}

#[test]
fn library_lists_types() {
    let module = load_module();

    let types: Vec<String> = module.policy_types()()
        .into_iter()
        .map(String::from)
        .collect();

    assert_eq!(types, ["none", "fixed", "backoff"]);
}

#[test]
fn library_backoff_waits() {
    let module = load_module();
    let parameters = r#"{"type":"backoff","max_attempts":5,"multiplier":2,"min":1,"max":10}"#;
    let mut policy = new_policy(module, "backoff", parameters);

    let decisions: Vec<FfiRetryDecision> = (1..=5)
        .map(|attempt| policy.after_failure(attempt, ErrorCategory::Transient))
        .collect();

    assert_eq!(policy.max_attempts(), 5);
    assert_eq!(
        decisions[..4],
        [2_000, 4_000, 8_000, 10_000].map(retry_after_ms)
    );
    assert_eq!(decisions[4], STOP);
}

#[test]
fn library_fixed_delay() {
    let module = load_module();
    let mut policy = new_policy(
        module,
        "fixed",
        r#"{"type":"fixed","max_attempts":2,"delay":0.25}"#,
    );

    assert_eq!(
        policy.after_failure(1, ErrorCategory::Internal),
        retry_after_ms(250)
    );
    assert_eq!(policy.after_failure(2, ErrorCategory::Internal), STOP);
}

#[test]
fn library_none_stops() {
    let module = load_module();
    let mut policy = new_policy(module, "none", r#"{"type":"none"}"#);

    assert_eq!(policy.max_attempts(), 1);
    assert_eq!(policy.after_failure(1, ErrorCategory::Transient), STOP);
}

#[test]
fn library_terminal_stops() {
    let module = load_module();
    let mut policy = new_policy(module, "backoff", r#"{"type":"backoff"}"#);

    assert_eq!(policy.after_failure(1, ErrorCategory::Terminal), STOP);
}

#[test]
fn library_config_error_crosses() {
    let module = load_module();

    let result = module.new_policy()(
        RStr::from("backoff"),
        RStr::from(r#"{"type":"backoff","min":-1}"#),
        HOST,
    );

    let error = match result {
        RResult::ROk(_) => panic!("backoff accepted min -1"),
        RResult::RErr(error) => error,
    };
    assert_eq!(error.category, ErrorCategory::Config);
    assert!(
        error.message().contains("`min`"),
        "message {:?} does not name `min`",
        error.message()
    );
}

#[test]
fn library_unknown_type_error() {
    let module = load_module();

    let result = module.new_policy()(RStr::from("linear"), RStr::from("{}"), HOST);

    let error = match result {
        RResult::ROk(_) => panic!("type linear was accepted"),
        RResult::RErr(error) => error,
    };
    assert_eq!(error.category, ErrorCategory::Config);
    assert!(
        error.message().contains("none, fixed, backoff"),
        "message {:?} does not list the types",
        error.message()
    );
}
