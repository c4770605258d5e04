//! The waits and stop decisions of each policy, built from `retry_policy` mappings.

use std::time::Duration;

use plugin_sdk::{ErrorCategory, RetryDecision, RetryPolicy};
use retry_policies::{Backoff, Fixed, NoRetry};
use serde_json::json;

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

/// Returns the decisions after failed attempts 1..=6 with a transient error.
fn decisions(policy: &mut dyn RetryPolicy) -> Vec<RetryDecision> {
    (1..=6)
        .map(|attempt| policy.after_failure(attempt, ErrorCategory::Transient))
        .collect()
}

fn retry_after(waits: &[f64]) -> Vec<RetryDecision> {
    waits
        .iter()
        .map(|wait| RetryDecision::RetryAfter(seconds(*wait)))
        .collect()
}

#[test]
fn backoff_default_waits() {
    let backoff = Backoff::from_parameters(&json!({"type": "backoff"})).unwrap();

    let waits: Vec<Duration> = (1..=6)
        .map(|attempt| backoff.exponential_wait(attempt))
        .collect();

    assert_eq!(waits, [4.0, 4.0, 8.0, 10.0, 10.0, 10.0].map(seconds));
}

#[test]
fn backoff_docs_example_waits() {
    let parameters =
        json!({"type": "backoff", "max_attempts": 7, "multiplier": 2, "min": 1, "max": 10});
    let mut backoff = Backoff::from_parameters(&parameters).unwrap();

    assert_eq!(
        decisions(&mut backoff),
        retry_after(&[2.0, 4.0, 8.0, 10.0, 10.0, 10.0])
    );
}

#[test]
fn backoff_multiplier_one_waits() {
    let parameters =
        json!({"type": "backoff", "max_attempts": 7, "multiplier": 1, "min": 0, "max": 3});
    let mut backoff = Backoff::from_parameters(&parameters).unwrap();

    assert_eq!(
        decisions(&mut backoff),
        retry_after(&[1.0, 2.0, 3.0, 3.0, 3.0, 3.0])
    );
}

#[test]
fn backoff_fractional_waits() {
    let parameters =
        json!({"type": "backoff", "max_attempts": 7, "multiplier": 0.25, "min": 0.5, "max": 2.5});
    let mut backoff = Backoff::from_parameters(&parameters).unwrap();

    assert_eq!(
        decisions(&mut backoff),
        retry_after(&[0.5, 0.5, 1.0, 2.0, 2.5, 2.5])
    );
}

#[test]
fn backoff_zero_multiplier_waits_min() {
    let backoff = Backoff {
        multiplier: 0.0,
        ..Backoff::default()
    };

    assert_eq!(backoff.exponential_wait(u32::MAX), Backoff::DEFAULT_MIN);
}

#[test]
fn backoff_huge_attempt_waits_max() {
    let backoff = Backoff::default();

    assert_eq!(backoff.exponential_wait(u32::MAX), Backoff::DEFAULT_MAX);
}

#[test]
fn backoff_attempt_zero_as_one() {
    let backoff = Backoff::default();

    assert_eq!(backoff.exponential_wait(0), backoff.exponential_wait(1));
}

#[test]
fn backoff_min_above_max_literal() {
    // Struct literals skip validation, and the policy must not panic on them.
    let backoff = Backoff {
        min: seconds(5.0),
        max: seconds(1.0),
        ..Backoff::default()
    };

    assert_eq!(backoff.exponential_wait(3), seconds(5.0));
}

#[test]
fn backoff_stops_after_max_attempts() {
    let mut backoff = Backoff::default();

    let decisions = decisions(&mut backoff);

    assert_eq!(decisions[..4], retry_after(&[4.0, 4.0, 8.0, 10.0]));
    assert_eq!(decisions[4], RetryDecision::Stop);
    assert_eq!(decisions[5], RetryDecision::Stop);
}

#[test]
fn backoff_jitter_within_bounds() {
    let parameters =
        json!({"type": "backoff", "max_attempts": 3, "min": 1, "max": 1, "jitter": 0.5});
    let mut backoff = Backoff::from_parameters(&parameters).unwrap();

    let waits: Vec<Duration> = (0..500)
        .map(
            |_| match backoff.after_failure(1, ErrorCategory::Transient) {
                RetryDecision::RetryAfter(wait) => wait,
                RetryDecision::Stop => panic!("backoff stopped after attempt 1 of 3"),
            },
        )
        .collect();

    assert!(
        waits.iter().all(|wait| *wait >= seconds(1.0)),
        "a wait fell below min: {waits:?}"
    );
    assert!(
        waits.iter().all(|wait| *wait <= seconds(1.5)),
        "a wait exceeded max + jitter: {waits:?}"
    );
    assert!(
        waits.iter().any(|wait| *wait != waits[0]),
        "500 jittered waits were all {:?}",
        waits[0]
    );
}

#[test]
fn backoff_without_jitter_repeats() {
    let mut first = Backoff::default();
    let mut second = Backoff::default();

    assert_eq!(decisions(&mut first), decisions(&mut second));
}

#[test]
fn fixed_default_waits() {
    let mut fixed = Fixed::from_parameters(&json!({"type": "fixed"})).unwrap();

    let decisions = decisions(&mut fixed);

    assert_eq!(decisions[..2], retry_after(&[0.0, 0.0]));
    assert_eq!(decisions[2..], [RetryDecision::Stop; 4]);
}

#[test]
fn fixed_delay_waits() {
    let parameters = json!({"type": "fixed", "max_attempts": 7, "delay": 1.5});
    let mut fixed = Fixed::from_parameters(&parameters).unwrap();

    assert_eq!(decisions(&mut fixed), retry_after(&[1.5; 6]));
}

#[test]
fn fixed_stops_after_max_attempts() {
    let mut fixed =
        Fixed::from_parameters(&json!({"type": "fixed", "max_attempts": 4, "delay": 2})).unwrap();

    let decisions = decisions(&mut fixed);

    assert_eq!(decisions[..3], retry_after(&[2.0, 2.0, 2.0]));
    assert_eq!(decisions[3..], [RetryDecision::Stop; 3]);
}

#[test]
fn none_stops_at_once() {
    let mut none = NoRetry::from_parameters(&json!({"type": "none"})).unwrap();

    assert_eq!(none.max_attempts(), 1);
    assert_eq!(decisions(&mut none), [RetryDecision::Stop; 6]);
}

#[test]
fn terminal_categories_stop() {
    let mut policies: Vec<(&str, Box<dyn RetryPolicy>)> = vec![
        ("fixed", Box::new(Fixed::default())),
        ("backoff", Box::new(Backoff::default())),
    ];

    for (name, policy) in &mut policies {
        for category in [ErrorCategory::Config, ErrorCategory::Terminal] {
            let decision = policy.after_failure(1, category);
            assert_eq!(
                decision,
                RetryDecision::Stop,
                "{name} retried a {category} error"
            );
        }
    }
}

#[test]
fn retryable_categories_retry() {
    let mut policies: Vec<(&str, Box<dyn RetryPolicy>)> = vec![
        ("fixed", Box::new(Fixed::default())),
        ("backoff", Box::new(Backoff::default())),
    ];

    for (name, policy) in &mut policies {
        for category in [ErrorCategory::Transient, ErrorCategory::Internal] {
            let decision = policy.after_failure(1, category);
            assert!(
                matches!(decision, RetryDecision::RetryAfter(_)),
                "{name} stopped on a {category} error: {decision:?}"
            );
        }
    }
}

#[test]
fn zero_max_attempts_literal_is_one() {
    let fixed = Fixed {
        max_attempts: 0,
        delay: Duration::ZERO,
    };
    let backoff = Backoff {
        max_attempts: 0,
        ..Backoff::default()
    };

    assert_eq!(fixed.max_attempts(), 1);
    assert_eq!(backoff.max_attempts(), 1);
}

#[test]
fn defaults_match_empty_mapping() {
    assert_eq!(
        Fixed::from_parameters(&json!(null)).unwrap(),
        Fixed::default()
    );
    assert_eq!(
        Backoff::from_parameters(&json!({})).unwrap(),
        Backoff::default()
    );
}
