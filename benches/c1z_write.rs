//! Write throughput of the `.c1z` store, without Cognito: users, then grants as the connector
//! makes them (every user in 5 of 100 groups), in pages of 60.
//!
//!     cargo bench --bench c1z_write                      # 200,000 users, 1,000,000 grants
//!     C1Z_BENCH_USERS=20000 cargo bench --bench c1z_write

use std::time::{Duration, Instant};

#[path = "common/pool_file.rs"]
mod pool_file;

use baton_cognito::cognito::records::CognitoUser;
use baton_cognito::connector::{groups, users};

fn main() {
    let n_users: usize = std::env::var("C1Z_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let n_groups = 100;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut writer, entitlements) =
        pool_file::with_groups(&dir.path().join("bench.c1z"), n_groups);

    let started = Instant::now();
    for first in (0..n_users).step_by(60) {
        let page: Vec<_> = (first..(first + 60).min(n_users))
            .map(|i| {
                users::resource(&CognitoUser {
                    username: format!("user-{i:07}"),
                    attributes: vec![
                        ("sub".into(), format!("{i:08x}-0000-4000-8000-000000000000")),
                        ("email".into(), format!("user{i}@example.com")),
                    ],
                    enabled: true,
                    status: "CONFIRMED".into(),
                    ..CognitoUser::default()
                })
            })
            .collect();
        writer.put_resources(&page).expect("users");
    }
    let users_time = started.elapsed();

    let mut grants_time = Duration::ZERO;
    let mut n_grants = 0;
    let mut page = Vec::with_capacity(60);
    for i in 0..n_users {
        for k in 0..5 {
            page.push(groups::member_grant(
                &entitlements[(i * 7 + k * 13) % n_groups],
                &format!("user-{i:07}"),
            ));
            if page.len() == 60 || (i + 1 == n_users && k == 4) {
                let t = Instant::now();
                writer.put_grants(&page).expect("grants");
                grants_time += t.elapsed();
                n_grants += page.len();
                page.clear();
            }
        }
    }
    let t = Instant::now();
    let written = writer.finish().expect("finish");
    let finish_time = t.elapsed();
    println!(
        "users {n_users}: {:.2}s ({:.0}/s); grants {n_grants}: {:.2}s ({:.0}/s); finish (compress + fsync) {:.2}s; \
         database {:.1} MB -> .c1z {:.1} MB",
        users_time.as_secs_f64(),
        n_users as f64 / users_time.as_secs_f64(),
        grants_time.as_secs_f64(),
        n_grants as f64 / grants_time.as_secs_f64(),
        finish_time.as_secs_f64(),
        written.db_bytes as f64 / 1e6,
        written.bytes as f64 / 1e6,
    );
}
