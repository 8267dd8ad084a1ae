//! Criterion benchmarks: one order by size, and a whole sequential run by policy.
//!
//! `cargo bench --bench routing`

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fulfil::route::{PolicyKind, Router, Untouched, route_all};

fn route_order(c: &mut Criterion) {
    let (snapshot, orders) = common::load(&common::demo_dir());
    let mut group = c.benchmark_group("route_order/demo");
    for lines in [1usize, 2, 4, 8] {
        let pool = common::orders_with_lines(&orders, lines, 2000);
        let mut router = Router::new();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::from_parameter(lines), &pool, |b, pool| {
            b.iter(|| {
                i = (i + 1) % pool.len();
                router
                    .route(&snapshot, &Untouched, &pool[i], PolicyKind::Optimal)
                    .expect("routes")
            })
        });
    }
    group.finish();
}

fn route_run(c: &mut Criterion) {
    let (snapshot, orders) = common::load(&common::demo_dir());
    let mut group = c.benchmark_group("route_all/demo");
    group.sample_size(10);
    group.throughput(Throughput::Elements(orders.len() as u64));
    for (name, kind) in [
        ("optimal", PolicyKind::Optimal),
        ("nearest", PolicyKind::Nearest),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| route_all(&snapshot, &orders, kind, |_| {}).expect("routes"))
        });
    }
    group.finish();
}

criterion_group!(benches, route_order, route_run);
criterion_main!(benches);
