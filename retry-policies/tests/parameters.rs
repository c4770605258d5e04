//! Rejection of invalid `retry_policy` mappings, through the plugin factory.

use plugin_sdk::{ErrorCategory, RetryPolicyFactory};
use retry_policies::BuiltinPolicies;
use serde_json::{Value, json};

/// Returns the message of the error that `new_policy` returns, after checking
/// that it is a configuration error.
fn error_message(type_name: &str, parameters: Value) -> String {
    let error = match BuiltinPolicies::new_policy(type_name, &parameters) {
        Ok(_) => panic!("policy {type_name} accepted {parameters}"),
        Err(error) => error,
    };

    assert_eq!(error.category, ErrorCategory::Config, "{error}");
    error.message().to_owned()
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "message {message:?} does not mention {part:?}"
        );
    }
}

#[test]
fn valid_mappings_accepted() {
    let cases = [
        ("none", json!({"type": "none"})),
        (
            "fixed",
            json!({"type": "fixed", "max_attempts": 1, "delay": 0}),
        ),
        (
            "backoff",
            json!({"type": "backoff", "max_attempts": 5, "multiplier": 2, "min": 1, "max": 10}),
        ),
        (
            "backoff",
            json!({"type": "backoff", "min": 3, "max": 3, "jitter": 0.5}),
        ),
        ("backoff", json!(null)),
    ];

    for (type_name, parameters) in cases {
        let result = BuiltinPolicies::new_policy(type_name, &parameters);
        assert!(
            result.is_ok(),
            "{type_name} rejected {parameters}: {:?}",
            result.err()
        );
    }
}

#[test]
fn max_attempts_from_mapping() {
    let policy =
        BuiltinPolicies::new_policy("backoff", &json!({"type": "backoff", "max_attempts": 9}))
            .unwrap();

    assert_eq!(policy.max_attempts(), 9);
}

#[test]
fn unknown_type_lists_known() {
    let message = error_message("exponential", json!({"type": "exponential"}));

    assert_mentions(&message, &["\"exponential\"", "none, fixed, backoff"]);
}

#[test]
fn unknown_key_named() {
    let message = error_message("backoff", json!({"type": "backoff", "retries": 3}));

    assert_mentions(&message, &["`retries`", "3", "Remove it", "`max_attempts`"]);
}

#[test]
fn unused_key_for_type_named() {
    let fixed = error_message("fixed", json!({"type": "fixed", "min": 5}));
    let none = error_message("none", json!({"type": "none", "max_attempts": 3}));

    assert_mentions(&fixed, &["`min`", "\"fixed\"", "`delay`"]);
    assert_mentions(&none, &["`max_attempts`", "\"none\""]);
}

#[test]
fn max_attempts_invalid_values() {
    for value in [
        json!(0),
        json!(-1),
        json!(2.5),
        json!("3"),
        json!(true),
        json!(4_294_967_296_u64),
    ] {
        let message = error_message("fixed", json!({"type": "fixed", "max_attempts": value}));
        assert_mentions(&message, &["`max_attempts`", &value.to_string()]);
    }
}

#[test]
fn zero_max_attempts_says_minimum() {
    let message = error_message("backoff", json!({"type": "backoff", "max_attempts": 0}));

    assert_mentions(&message, &["`max_attempts`", "got 0", "at least 1"]);
}

#[test]
fn seconds_invalid_values() {
    let cases = [
        ("backoff", "multiplier", json!(-1)),
        ("backoff", "multiplier", json!("2")),
        ("backoff", "min", json!(-0.5)),
        ("backoff", "max", json!(null)),
        ("backoff", "jitter", json!(-0.1)),
        ("fixed", "delay", json!(true)),
        ("fixed", "delay", json!([1])),
    ];

    for (type_name, key, value) in cases {
        let message = error_message(type_name, json!({"type": type_name, key: value}));
        assert_mentions(
            &message,
            &[&format!("`{key}`"), &value.to_string(), "0 or more"],
        );
    }
}

#[test]
fn seconds_too_large() {
    let value = json!(1e300);

    let message = error_message("fixed", json!({"type": "fixed", "delay": value}));

    assert_mentions(&message, &["`delay`", &value.to_string(), "below"]);
}

#[test]
fn min_above_max_names_both() {
    let message = error_message("backoff", json!({"type": "backoff", "min": 5, "max": 1}));

    assert_mentions(&message, &["`min`", "`max`", "5 s", "1 s"]);
}

#[test]
fn min_above_default_max() {
    let message = error_message("backoff", json!({"type": "backoff", "min": 12}));

    assert_mentions(&message, &["`min`", "12 s", "10 s"]);
}

#[test]
fn type_mismatch_named() {
    let message = error_message("fixed", json!({"type": "backoff"}));

    assert_mentions(&message, &["`type`", "\"backoff\"", "\"fixed\""]);
}

#[test]
fn non_mapping_rejected() {
    let message = error_message("backoff", json!([1, 2]));

    assert_mentions(&message, &["[1,2]", "mapping"]);
}
