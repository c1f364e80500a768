//! Route lookup with 10 and with 1,000 routes: a static hit (`/plaintext`, the exact-match
//! map in front of matchit) and a dynamic hit (`/user/42`, a miss in that map then matchit).
//! The table is `bench_server`'s three routes plus `add_filler_routes`' mix, as
//! `bench_server --extra-routes N` builds it.
//!
//! `cargo bench -p carafe --bench router`. Noisy on a shared machine: compare within a run.

use std::hint::black_box;

mod common;

use carafe::__bench::{add_filler_routes, route_lookup};
use carafe::{App, Method, route};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn app_with(total_routes: usize) -> App {
    let mut app = App::new();
    route!(app, GET "/plaintext" => |_req| "Hello, World!").unwrap();
    route!(app, GET "/json" => |_req| "{}").unwrap();
    route!(app, GET "/user/{id}" => |req| req.param("id").unwrap_or_default().to_owned()).unwrap();
    add_filler_routes(&mut app, total_routes - 3).unwrap();
    assert_eq!(app.routes().len(), total_routes);
    app
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_lookup");
    for total in [10, 1000] {
        let app = app_with(total);
        for (name, path, params) in [
            ("static_hit", "/plaintext", 0),
            ("dynamic_hit", "/user/42", 1),
        ] {
            assert_eq!(route_lookup(&app, &Method::GET, path), Some(params));
            group.bench_with_input(BenchmarkId::new(name, total), &path, |b, path| {
                b.iter(|| route_lookup(&app, &Method::GET, black_box(path)))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = lookup
}
criterion_main!(benches);
