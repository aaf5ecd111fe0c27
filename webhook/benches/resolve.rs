//! A warm-cache resolve through the real `Resolver`: warmed once against an in-process
//! registry on loopback, then every lookup is a cache hit.

use criterion::{criterion_group, criterion_main, Criterion};
use landed::image::Reference;
use landed::resolve::{LookupContext, Resolve, Resolver};
use landed::verdict::VerdictClass;
use std::hint::black_box;

mod support;

fn bench(c: &mut Criterion) {
    let rt = support::runtime();
    let fake = rt.block_on(support::registry());
    let resolver = Resolver::new(&support::config(&fake)).expect("resolver");
    let ctx = LookupContext {
        namespace: Some("shop".into()),
        pull_secrets: vec!["regcred".into()],
        service_account: Some("web".into()),
    };
    let (repo, tag) = support::POD_IMAGES[1];
    let by_tag = Reference::parse(&format!("{}/{repo}:{tag}", support::HOST)).expect("ref");
    let warm = rt.block_on(resolver.resolve(&by_tag, &ctx));
    assert_eq!(warm.class, VerdictClass::Landed, "{warm:?}");
    let digest = warm.digest.expect("digest");
    let pinned =
        Reference::parse(&format!("{}/{repo}:{tag}@{digest}", support::HOST)).expect("ref");
    assert_eq!(
        rt.block_on(resolver.resolve(&pinned, &ctx)).class,
        VerdictClass::Landed
    );
    let before = fake.manifests();

    let mut group = c.benchmark_group("resolve");
    group.bench_function("warm_tag", |b| {
        b.to_async(&rt)
            .iter(|| resolver.resolve(black_box(&by_tag), &ctx))
    });
    group.bench_function("warm_tag_and_digest", |b| {
        b.to_async(&rt)
            .iter(|| resolver.resolve(black_box(&pinned), &ctx))
    });
    group.finish();
    assert_eq!(
        fake.manifests(),
        before,
        "warm lookups reached the registry"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
