//! The pool the change-feed tests start from, and one mutation of every kind the feeds report,
//! shared by the CloudEvents/export tests (`feed.rs`) and the Baton event feed tests
//! (`event_feed.rs`) so both are held to the same changes.

use serde_json::json;

use crate::support::{Emulator, Pool, unique};

pub fn seed(emulator: &Emulator) -> Pool {
    emulator.create_pool(json!({
        "name": unique("feed"),
        "users": [
            {"username": "ann", "attributes": {"email": "ann@example.com", "custom:team": "red"}},
            {"username": "bob:smith", "attributes": {"email": "bob@example.com"}},
            {"username": "cara", "enabled": false, "status": "FORCE_CHANGE_PASSWORD"},
            {"username": "dan"},
        ],
        "groups": [
            {"name": "admins", "description": "Admins", "precedence": 1},
            {"name": "team: red/blue"},
            {"name": "retired"},
        ],
        "memberships": [
            ["admins", "ann"],
            ["team: red/blue", "ann"],
            ["team: red/blue", "dan"],
            ["retired", "bob:smith"],
        ],
    }))
}

/// Creates eve (into the new group "new"), changes ann's custom:team, disables bob:smith,
/// deletes cara, takes dan out of "team: red/blue", and deletes the group "retired" (whose
/// member was bob:smith).
pub fn mutate(emulator: &Emulator, pool: &Pool) {
    let users = format!("/_emulator/pools/{}/users", pool.id);
    let groups = format!("/_emulator/pools/{}/groups", pool.id);
    let memberships = format!("/_emulator/pools/{}/memberships", pool.id);
    emulator.control(
        "POST",
        &users,
        Some(&json!({"users": [{"username": "eve"}]})),
    );
    emulator.control(
        "PATCH",
        &format!("{users}/ann"),
        Some(&json!({"attributes": {"custom:team": "blue"}})),
    );
    emulator.control(
        "PATCH",
        &format!("{users}/bob%3Asmith"),
        Some(&json!({"enabled": false})),
    );
    emulator.control("DELETE", &format!("{users}/cara"), None);
    emulator.control(
        "DELETE",
        &memberships,
        Some(&json!({"memberships": [["team: red/blue", "dan"]]})),
    );
    emulator.control("POST", &groups, Some(&json!({"groups": [{"name": "new"}]})));
    emulator.control(
        "POST",
        &memberships,
        Some(&json!({"memberships": [["new", "eve"]]})),
    );
    emulator.control("DELETE", &format!("{groups}/retired"), None);
}
