//! Parsing and normalizing a spread of real image references (the grammar's test vectors).

use criterion::{criterion_group, criterion_main, Criterion};
use landed::image::Reference;
use std::hint::black_box;

mod support;

/// Every `input` of `tests/data/references.json`, valid or not.
fn corpus() -> Vec<String> {
    let path = support::data("references.json");
    let text = std::fs::read_to_string(&path).expect("references.json");
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON array");
    vectors
        .iter()
        .filter_map(|v| v["input"].as_str().map(str::to_owned))
        .collect()
}

fn bench(c: &mut Criterion) {
    let inputs = corpus();
    let valid: Vec<&String> = inputs
        .iter()
        .filter(|i| Reference::parse(i).is_ok())
        .collect();
    let mut group = c.benchmark_group("reference");
    group.bench_function(format!("parse_all_{}", inputs.len()), |b| {
        b.iter(|| {
            for input in &inputs {
                let _ = black_box(Reference::parse(black_box(input)));
            }
        })
    });
    group.bench_function("parse_and_normalize_one", |b| {
        let input = "registry.example.com:5000/team/app:1.0";
        b.iter(|| {
            Reference::parse(black_box(input))
                .map(|r| r.to_string())
                .expect("valid")
        })
    });
    group.bench_function(format!("normalize_valid_{}", valid.len()), |b| {
        let parsed: Vec<Reference> = valid
            .iter()
            .map(|i| Reference::parse(i).expect("valid"))
            .collect();
        b.iter(|| {
            for r in &parsed {
                black_box(r.to_string());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
