//! Pipeline state: `state.json`, its hash and its compressed form.
